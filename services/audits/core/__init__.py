"""The records the programme keeps: neighbourhoods, partnerships, CPTED audits, recommendations and
their lifecycle, and the lifecycle exports of audits and recommendations.
"""
