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
