"""The programme's words, shared by producers and consumers."""

from enum import StrEnum


class PartnershipStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class AuditTrigger(StrEnum):
    crime_statistics = "crime_statistics"
    resident_request = "resident_request"
    follow_up = "follow_up"
    other = "other"


class AuditStatus(StrEnum):
    planned = "planned"
    completed = "completed"


class Principle(StrEnum):
    natural_surveillance = "natural_surveillance"
    natural_access_control = "natural_access_control"
    territorial_reinforcement = "territorial_reinforcement"
    maintenance = "maintenance"
    activity_support = "activity_support"
    target_hardening = "target_hardening"


class RecommendationCategory(StrEnum):
    lighting = "lighting"
    landscaping = "landscaping"
    traffic_calming = "traffic_calming"
    signage = "signage"
    access_control = "access_control"
    maintenance = "maintenance"
    surveillance = "surveillance"
    activity_support = "activity_support"
    target_hardening = "target_hardening"
    other = "other"


class Priority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class RecommendationStatus(StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    in_progress = "in_progress"
    implemented = "implemented"
    declined = "declined"
    deferred = "deferred"


class EventKind(StrEnum):
    festival = "festival"
    community_event = "community_event"
    safety_committee_meeting = "safety_committee_meeting"
    bia_meeting = "bia_meeting"
    patrol_engagement = "patrol_engagement"
    outreach = "outreach"
    training = "training"
    other = "other"


class EventStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"


class MaterialKind(StrEnum):
    brochure = "brochure"
    pamphlet = "pamphlet"
    guide = "guide"


class MaterialTopic(StrEnum):
    cpted_audit = "cpted_audit"
    drug_treatment_court = "drug_treatment_court"
    treatment_options = "treatment_options"
    good_samaritan_act = "good_samaritan_act"
    diversion = "diversion"
    other = "other"


class Audience(StrEnum):
    frontline_staff = "frontline_staff"
    recruits = "recruits"
    public = "public"


class Cohort(StrEnum):
    recruits = "recruits"
    frontline = "frontline"


class StakeholderKind(StrEnum):
    safety_committee = "safety_committee"
    bia = "bia"
    residents_association = "residents_association"
    community_agency = "community_agency"
    municipal_department = "municipal_department"
    peer_leader_group = "peer_leader_group"
    other = "other"


class StakeholderStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class AuditRequestStatus(StrEnum):
    received = "received"
    scheduled = "scheduled"
    done = "done"
    rejected = "rejected"
