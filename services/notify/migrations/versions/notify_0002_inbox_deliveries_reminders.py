"""inbox, deliveries, preferences, watched windows, reminder claims, Zalo tokens

The first table kept one row per channel and was never sent: it is replaced by a
notification per person (the inbox) with its deliveries per channel.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-12-03 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'notify_0002'
down_revision = 'notify_0001'
branch_labels = None
depends_on = None

Instant = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_source_event_id')
        batch_op.drop_index('ix_notifications_recipient')
    op.drop_table('notifications')

    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_key', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', Instant, nullable=False),
        sa.Column('read_at', Instant, nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_key', 'username'),
    )
    op.create_index('ix_notifications_username', 'notifications', ['username'])
    op.create_table(
        'deliveries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=100), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', Instant, nullable=False),
        sa.Column('lease_until', Instant, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('provider_id', sa.String(length=200), nullable=True),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('sent_at', Instant, nullable=True),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_key', 'username', 'channel'),
    )
    op.create_index('ix_deliveries_notification_id', 'deliveries', ['notification_id'])
    op.create_index('ix_deliveries_due', 'deliveries', ['channel', 'status', 'next_attempt_at'])
    op.create_table(
        'preferences',
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.Column('zalo', sa.Boolean(), nullable=False),
        sa.Column('updated_at', Instant, nullable=False),
        sa.PrimaryKeyConstraint('username'),
    )
    op.create_table(
        'watched_windows',
        sa.Column('window_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('campaign_name', sa.String(length=300), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('opens_at', Instant, nullable=False),
        sa.Column('locks_at', Instant, nullable=False),
        sa.Column('reminders', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('window_id'),
    )
    op.create_index('ix_watched_windows_campaign_id', 'watched_windows', ['campaign_id'])
    op.create_index('ix_watched_windows_locks_at', 'watched_windows', ['locks_at'])
    op.create_table(
        'reminder_claims',
        sa.Column('window_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('minutes', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('sent', sa.Boolean(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('claimed_at', Instant, nullable=False),
        sa.PrimaryKeyConstraint('window_id', 'minutes'),
    )
    op.create_table(
        'zalo_tokens',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('access_token', sa.Text(), nullable=False),
        sa.Column('refresh_token', sa.Text(), nullable=False),
        sa.Column('updated_at', Instant, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    for table in ('zalo_tokens', 'reminder_claims', 'watched_windows', 'preferences',
                  'deliveries', 'notifications'):
        op.drop_table(table)
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('source_event_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', Instant, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notifications_recipient', 'notifications', ['recipient'])
    op.create_index('ix_notifications_source_event_id', 'notifications', ['source_event_id'])
