-- The email connector tells apart different messages sent under one Message-ID (broken mailers,
-- web forms, mail merges): each row keeps a hash of what every copy of its message shares (From,
-- To/Cc, Date; connectors/email/threads.py). NULL on rows placed before: the same message.
ALTER TABLE email_threads ADD COLUMN fingerprint text;
