"""What the partnerships do with their communities: community and special events (and each partnership's
calendar of them) and the community connections (stakeholders).

Each record belongs to partnerships, checked with the audits service as the caller (``directory.py``).
"""
