"""Reflections remember the framework item by a stable key as well as by its code: the draft MLF numbers
nothing (1.1-9.3 are ours), so a final edition that reorders it must not move anyone's reflections.
Existing rows get the key of their MLF item; LF 2011 is final and keeps its own codes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The keys as they were when this migration was written (frozen here: later data changes don't move them).
MLF_KEYS = {
    "mlf2025.area.1": "mlf2025:self-effectiveness",
    "mlf2025.1": "mlf2025:balancing-safety-productivity-and-wellbeing",
    "mlf2025.1.1": "mlf2025:prioritise-for-productivity",
    "mlf2025.1.2": "mlf2025:keep-safe-and-develop-wellbeing-strategies",
    "mlf2025.1.3": "mlf2025:commit-to-continuing-professional-development",
    "mlf2025.2": "mlf2025:communicating-and-listening-effectively",
    "mlf2025.2.1": "mlf2025:communicate-with-clarity-and-purpose",
    "mlf2025.2.2": "mlf2025:encourage-open-dialogue-and-feedback",
    "mlf2025.2.3": "mlf2025:influence-negotiate-and-manage-upwards",
    "mlf2025.3": "mlf2025:delivering-with-accountability-and-integrity",
    "mlf2025.3.1": "mlf2025:take-accountability-for-my-actions",
    "mlf2025.3.2": "mlf2025:be-visible-transparent-and-present",
    "mlf2025.3.3": "mlf2025:manage-with-civility-and-compassion",
    "mlf2025.area.2": "mlf2025:managing-people-and-resources",
    "mlf2025.4": "mlf2025:creating-a-high-performing-work-environment",
    "mlf2025.4.1": "mlf2025:create-a-sense-of-engagement",
    "mlf2025.4.2": "mlf2025:support-people-to-feel-safe-in-the-workplace",
    "mlf2025.4.3": "mlf2025:manage-challenging-circumstances",
    "mlf2025.5": "mlf2025:improving-performance-and-operational-delivery",
    "mlf2025.5.1": "mlf2025:provide-clear-purpose-vision-and-deliverables",
    "mlf2025.5.2": "mlf2025:manage-and-measure-performance",
    "mlf2025.5.3": "mlf2025:manage-conflict-and-sensitive-conversations",
    "mlf2025.6": "mlf2025:maximising-resources-and-financial-value",
    "mlf2025.6.1": "mlf2025:allocate-and-optimise-resources",
    "mlf2025.6.2": "mlf2025:manage-public-money-effectively",
    "mlf2025.6.3": "mlf2025:use-data-evidence-and-critical-thinking",
    "mlf2025.area.3": "mlf2025:delivering-across-health-and-care",
    "mlf2025.7": "mlf2025:improving-patient-outcomes-and-experiences",
    "mlf2025.7.1": "mlf2025:respond-to-patient-safety-needs-and-preferences",
    "mlf2025.7.2": "mlf2025:prioritise-people-centred-care-to-deliver-a-quality-service",
    "mlf2025.7.3": "mlf2025:apply-compliance-governance-and-policy-to-improve-patient-outcomes",
    "mlf2025.8": "mlf2025:leading-with-a-mindset-of-improvement-and-innovation",
    "mlf2025.8.1": "mlf2025:drive-continuous-improvement-and-innovation",
    "mlf2025.8.2": "mlf2025:transform-through-technology-and-innovation",
    "mlf2025.8.3": "mlf2025:support-others-through-change",
    "mlf2025.9": "mlf2025:working-collaboratively-to-achieve-successful-outcomes",
    "mlf2025.9.1": "mlf2025:build-impactful-relationships",
    "mlf2025.9.2": "mlf2025:lead-a-collaborative-team",
    "mlf2025.9.3": "mlf2025:actively-share-good-practice",
}


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(sa.Column("item_key", sa.String(96)))
    reflections = sa.table("reflections", sa.column("item_id", sa.String), sa.column("item_key", sa.String))
    for item_id, key in MLF_KEYS.items():
        op.execute(reflections.update().where(reflections.c.item_id == item_id).values(item_key=key))


def downgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.drop_column("item_key")
