-- Thread memory of the email connector (connectors/email/threads.py): one row per Message-ID it
-- has placed, or has seen referenced (rule 'placeholder': a parent that arrives later joins the
-- thread its reply opened). Personal data: participants are customer addresses; erasure (issue 7)
-- must clear them together with the contact's interactions.
CREATE TABLE email_threads (
    message_id   text PRIMARY KEY,
    thread_key   text NOT NULL,
    rule         text NOT NULL,
    subject_key  text,
    participants text[] NOT NULL DEFAULT '{}',
    conversation text,
    occurred_at  timestamptz
);
CREATE INDEX email_threads_subject ON email_threads (subject_key, occurred_at DESC) WHERE subject_key IS NOT NULL;
CREATE INDEX email_threads_conversation ON email_threads (conversation, occurred_at DESC) WHERE conversation IS NOT NULL;
