"""The conversations: onboarding and settings, the weekly reflection, look-ups, history, self-assessment
and development, CPD and the appraisal countdown, nudges, and the account (privacy, export, erase).
Each declares its steps with the core's step kinds and registers its commands."""
