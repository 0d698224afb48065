-- Version 9: a version per tenant that every change of what a webhook reads of it bumps
-- (issue 11): its company row, its Twilio integration, its numbers. Apache children cache
-- the tenant row and check, in the webhook's own statement, that the version they hold is
-- still the company's; a change made with voxtwilio-admin is seen by the next webhook
-- without a lookup of its own (docs/performance.md, "The tenant cache").
-- One sequence for all tenants: a version never repeats, not even for another company.
CREATE SEQUENCE tenant_version;
ALTER TABLE companies
    ADD COLUMN tenant_version bigint NOT NULL DEFAULT nextval('tenant_version');

CREATE FUNCTION voxtwilio_company_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tenant_version := nextval('tenant_version');
    RETURN NEW;
END $$;
CREATE TRIGGER companies_version BEFORE UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION voxtwilio_company_version();

-- A change of an integration or of a number bumps the companies it concerns: before and
-- after (a number moved between integrations, an integration deleted).
CREATE FUNCTION voxtwilio_integration_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE companies SET updated_at = updated_at WHERE id = OLD.company_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE companies SET updated_at = updated_at WHERE id = NEW.company_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER client_integrations_version AFTER INSERT OR UPDATE OR DELETE
    ON client_integrations FOR EACH ROW EXECUTE FUNCTION voxtwilio_integration_version();

CREATE FUNCTION voxtwilio_number_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE companies SET updated_at = updated_at
            WHERE id = (SELECT company_id FROM client_integrations WHERE id = OLD.integration_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE companies SET updated_at = updated_at
            WHERE id = (SELECT company_id FROM client_integrations WHERE id = NEW.integration_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER integration_numbers_version AFTER INSERT OR UPDATE OR DELETE
    ON integration_numbers FOR EACH ROW EXECUTE FUNCTION voxtwilio_number_version();
