-- Version 10: inbound SMS and WhatsApp messages (issue 12). A message lands once per
-- MessageSid (messages.message_sid is unique) however often Twilio delivers it, under
-- the customer who sent it: one customer per tenant and phone, whatever the channel
-- (WhatsApp's `whatsapp:+E164` is stored as +E164, the channel on the message).
ALTER TABLE messages
    ADD COLUMN customer_id  bigint REFERENCES customers (id) ON DELETE SET NULL,
    -- [{"url": "https://api.twilio.com/…/Media/ME…", "content_type": "image/jpeg"}, …]:
    -- the media stay at Twilio's URL (they need the tenant's credentials to fetch).
    ADD COLUMN media        jsonb NOT NULL DEFAULT '[]'::jsonb
                            CHECK (jsonb_typeof(media) = 'array'),
    ADD COLUMN num_segments integer CHECK (num_segments >= 0),
    -- Every parameter of the webhook, as call_events keeps them (WhatsApp's ProfileName,
    -- WaId, ButtonPayload…; Twilio adds parameters at any time).
    ADD COLUMN params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- NOT VALID: rows written by hand before this version are left alone, new ones checked.
    ADD CONSTRAINT messages_sid_check CHECK (message_sid ~ '^(SM|MM)[0-9a-fA-F]{32}$')
        NOT VALID;
CREATE INDEX messages_company_created ON messages (company_id, created_at DESC);
CREATE INDEX messages_customer ON messages (customer_id, created_at DESC);

ALTER TABLE customers
    ADD CONSTRAINT customers_phone_check CHECK (phone ~ '^\+[1-9][0-9]{1,14}$') NOT VALID;
