"""The words of API.md's vocabulary that configuration may extend: client groups, outcomes, priorities."""

# The national Primary Support Reason categories, plus "not yet known".
CLIENT_GROUPS = (
    "physical_support",
    "sensory_support",
    "memory_and_cognition",
    "learning_disability",
    "mental_health",
    "social_support",
    "unknown",
)
OUTCOMES = (
    "information_and_advice",
    "signposted",
    "welfare_check_done",
    "met_at_c1",
    "crisis_resolved",
    "long_term_support",
    "declined",
    "moved_away",
    "died",
    "no_further_action",
)
PRIORITIES = ("crisis", "high", "normal", "low")
