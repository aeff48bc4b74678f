-- table _migrations
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);

-- table agent_skills
CREATE TABLE agent_skills (
            agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            PRIMARY KEY (agent_id, category)
        ) WITHOUT ROWID;

-- table agents
CREATE TABLE agents (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            email TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            max_open INTEGER,
            created_at TEXT NOT NULL
        );

-- table audit_log
CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            details TEXT,
            prev_hash TEXT,
            hash TEXT
        , details_sha256 TEXT, mac TEXT);

-- table audit_redactions
CREATE TABLE audit_redactions (
            id INTEGER PRIMARY KEY,
            audit_id INTEGER NOT NULL REFERENCES audit_log(id),
            by_audit_id INTEGER NOT NULL REFERENCES audit_log(id),
            at TEXT NOT NULL,
            details TEXT
        , mac TEXT);

-- table audit_seal
CREATE TABLE audit_seal (
            db_id TEXT NOT NULL,
            rows INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );

-- table campaign_members
CREATE TABLE campaign_members (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            variant TEXT NOT NULL,
            contacted_at TEXT,
            result TEXT NOT NULL DEFAULT 'pending'
                CHECK (result IN ('pending', 'success', 'failure')),
            responded_at TEXT,
            revenue INTEGER,
            PRIMARY KEY (campaign_id, customer_id)
        ) WITHOUT ROWID;

-- table campaigns
CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            channel TEXT NOT NULL,
            description TEXT,
            starts_at TEXT,
            ends_at TEXT,
            cost INTEGER NOT NULL DEFAULT 0,
            currency TEXT NOT NULL DEFAULT 'CNY',
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'active', 'closed')),
            segment TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

-- table change_log
CREATE TABLE change_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            entity TEXT NOT NULL,
            key1 INTEGER NOT NULL,
            key2 INTEGER NOT NULL DEFAULT 0
        );

-- table comm_hourly
CREATE TABLE comm_hourly (
            hour_utc TEXT NOT NULL,
            channel TEXT NOT NULL,
            direction TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (hour_utc, channel, direction)
        ) WITHOUT ROWID;

-- table communications
CREATE TABLE communications (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            channel TEXT NOT NULL CHECK (channel IN
                ('phone', 'email', 'meeting', 'chat', 'sms', 'visit', 'social', 'other')),
            direction TEXT NOT NULL DEFAULT 'outbound'
                CHECK (direction IN ('inbound', 'outbound')),
            occurred_at TEXT NOT NULL,
            subject TEXT,
            content TEXT,
            agent TEXT,
            duration_s INTEGER,
            follow_up_at TEXT,
            done_at TEXT,
            external_id TEXT UNIQUE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        , deal_id INTEGER
            REFERENCES deals(id) ON DELETE SET NULL);

-- table companies
CREATE TABLE companies (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            domain TEXT UNIQUE,
            industry TEXT,
            size INTEGER CHECK (size IS NULL OR size >= 0),
            owner TEXT,
            notes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

-- table company_tags
CREATE TABLE company_tags (
            company_id INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (company_id, tag)
        ) WITHOUT ROWID;

-- table custom_fields
CREATE TABLE custom_fields (
            id INTEGER PRIMARY KEY,
            entity TEXT NOT NULL CHECK (entity IN ('customer', 'company', 'deal', 'ticket')),
            name TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'bool', 'choice')),
            choices TEXT,
            label TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (entity, name)
        );

-- table custom_values
CREATE TABLE custom_values (
            field_id INTEGER NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
            entity_id INTEGER NOT NULL,
            value_text TEXT,
            value_num REAL,
            PRIMARY KEY (field_id, entity_id)
        ) WITHOUT ROWID;

-- table customer_contacts
CREATE TABLE customer_contacts (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'address')),
            value TEXT NOT NULL,
            merged_from INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (customer_id, kind, value)
        );

-- table customer_tags
CREATE TABLE customer_tags (
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (customer_id, tag)
        ) WITHOUT ROWID;

-- table customers
CREATE TABLE "customers" (
                id INTEGER PRIMARY KEY,
                external_id TEXT,
                name TEXT NOT NULL,
                phone TEXT,
                email TEXT,
                address TEXT,
                company TEXT,
                lifecycle TEXT NOT NULL DEFAULT 'lead'
                    CHECK (lifecycle IN ('lead', 'prospect', 'customer', 'churned')),
                owner TEXT,
                notes TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                erased_at TEXT,
                company_id INTEGER REFERENCES companies(id) ON DELETE SET NULL,
                phone_ext TEXT,
                phone_suspect INTEGER NOT NULL DEFAULT 0 CHECK (phone_suspect IN (0, 1))
            );

-- table customers_fts
CREATE VIRTUAL TABLE customers_fts USING fts5(
            name, email, phone, company,
            content='customers', content_rowid='id', tokenize='trigram'
        );

-- table customers_fts_config
CREATE TABLE 'customers_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table customers_fts_data
CREATE TABLE 'customers_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table customers_fts_docsize
CREATE TABLE 'customers_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);

-- table customers_fts_idx
CREATE TABLE 'customers_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table customers_fts_pending
CREATE TABLE customers_fts_pending (
            lo INTEGER PRIMARY KEY,
            hi INTEGER NOT NULL CHECK (hi >= lo)
        );

-- table deal_events
CREATE TABLE deal_events (
            id INTEGER PRIMARY KEY,
            deal_id INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT,
            kind TEXT NOT NULL,
            from_stage TEXT,
            to_stage TEXT,
            amount INTEGER,
            close_date TEXT,
            probability INTEGER,
            note TEXT
        );

-- table deal_stages
CREATE TABLE deal_stages (
            name TEXT PRIMARY KEY,
            alias TEXT UNIQUE,
            position INTEGER NOT NULL,
            probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
            kind TEXT NOT NULL DEFAULT 'open' CHECK (kind IN ('open', 'won', 'lost'))
        );

-- table deals
CREATE TABLE deals (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
            company_id INTEGER REFERENCES companies(id),
            title TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL DEFAULT 'CNY',
            stage TEXT NOT NULL REFERENCES deal_stages(name) ON UPDATE CASCADE,
            probability INTEGER CHECK (probability IS NULL OR probability BETWEEN 0 AND 100),
            close_date TEXT,
            owner TEXT,
            source TEXT,
            campaign_id INTEGER REFERENCES campaigns(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            stage_changed_at TEXT NOT NULL,
            won_at TEXT,
            lost_at TEXT,
            lost_reason TEXT,
            CHECK (customer_id IS NOT NULL OR company_id IS NOT NULL)
        );

-- table deferred_indexes
CREATE TABLE deferred_indexes (
            name TEXT PRIMARY KEY,
            tbl TEXT NOT NULL,
            sql TEXT NOT NULL
        );

-- table order_lines
CREATE TABLE order_lines (
            order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_no INTEGER NOT NULL,
            sku TEXT,
            product TEXT,
            quantity REAL,
            unit_price INTEGER,
            amount INTEGER NOT NULL,
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;

-- table orders
CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            ordered_at TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL DEFAULT 'CNY',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

-- table pending_purges
CREATE TABLE pending_purges (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            work TEXT NOT NULL,
            done_at TEXT,
            result TEXT
        );

-- table settings
CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

-- table ticket_events
CREATE TABLE ticket_events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT,
            kind TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            body TEXT,
            internal INTEGER NOT NULL DEFAULT 0,
            details TEXT
        );

-- table tickets
CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            external_id TEXT UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            description TEXT,
            category TEXT,
            priority TEXT NOT NULL DEFAULT 'normal'
                CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'closed')),
            channel TEXT,
            assignee TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            first_response_at TEXT,
            resolved_at TEXT,
            closed_at TEXT,
            response_due_at TEXT,
            due_at TEXT,
            satisfaction INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
            satisfaction_comment TEXT
        , sla_paused_at TEXT, sla_paused_seconds INTEGER NOT NULL DEFAULT 0, rated_at TEXT, deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL);

-- index audit_log_action
CREATE INDEX audit_log_action ON audit_log(action, id);

-- index audit_log_at
CREATE INDEX audit_log_at ON audit_log(at);

-- index audit_log_entity
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);

-- index audit_redactions_audit
CREATE INDEX audit_redactions_audit ON audit_redactions(audit_id);

-- index campaign_members_customer
CREATE INDEX campaign_members_customer ON campaign_members(customer_id);

-- index communications_agent
CREATE INDEX communications_agent ON communications(agent, occurred_at);

-- index communications_customer
CREATE INDEX communications_customer ON communications(customer_id, occurred_at);

-- index communications_deal
CREATE INDEX communications_deal ON communications(deal_id, occurred_at)
            WHERE deal_id IS NOT NULL;

-- index communications_due
CREATE INDEX communications_due ON communications(follow_up_at)
            WHERE follow_up_at IS NOT NULL AND done_at IS NULL;

-- index communications_occurred
CREATE INDEX communications_occurred ON communications(occurred_at);

-- index companies_industry
CREATE INDEX companies_industry ON companies(industry);

-- index companies_owner
CREATE INDEX companies_owner ON companies(owner);

-- index companies_size
CREATE INDEX companies_size ON companies(size);

-- index company_tags_tag
CREATE INDEX company_tags_tag ON company_tags(tag, company_id);

-- index custom_values_entity
CREATE INDEX custom_values_entity ON custom_values(entity_id, field_id);

-- index custom_values_num
CREATE INDEX custom_values_num ON custom_values(field_id, value_num)
            WHERE value_num IS NOT NULL;

-- index custom_values_text
CREATE INDEX custom_values_text ON custom_values(field_id, value_text)
            WHERE value_text IS NOT NULL;

-- index customer_contacts_value
CREATE INDEX customer_contacts_value ON customer_contacts(kind, value);

-- index customer_tags_tag
CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id);

-- index customers_company
CREATE INDEX customers_company ON customers(company COLLATE NOCASE);

-- index customers_company_id
CREATE INDEX customers_company_id ON customers(company_id);

-- index customers_created
CREATE INDEX customers_created ON customers(created_at);

-- index customers_email
CREATE UNIQUE INDEX customers_email ON customers(email) WHERE email IS NOT NULL;

-- index customers_external_id
CREATE UNIQUE INDEX customers_external_id ON customers(external_id) WHERE external_id IS NOT NULL;

-- index customers_lifecycle
CREATE INDEX customers_lifecycle ON customers(lifecycle);

-- index customers_name
CREATE INDEX customers_name ON customers(name);

-- index customers_owner
CREATE INDEX customers_owner ON customers(owner);

-- index customers_phone
CREATE INDEX customers_phone ON customers(phone) WHERE phone IS NOT NULL;

-- index customers_report
CREATE INDEX customers_report
            ON customers(lifecycle, created_at, erased_at);

-- index deal_events_at
CREATE INDEX deal_events_at ON deal_events(at);

-- index deal_events_deal_state
CREATE INDEX deal_events_deal_state ON deal_events(deal_id, at, kind, to_stage);

-- index deals_campaign
CREATE INDEX deals_campaign ON deals(campaign_id) WHERE campaign_id IS NOT NULL;

-- index deals_close
CREATE INDEX deals_close ON deals(close_date);

-- index deals_company
CREATE INDEX deals_company ON deals(company_id);

-- index deals_created
CREATE INDEX deals_created ON deals(created_at);

-- index deals_customer
CREATE INDEX deals_customer ON deals(customer_id);

-- index deals_lost
CREATE INDEX deals_lost ON deals(lost_at) WHERE lost_at IS NOT NULL;

-- index deals_owner
CREATE INDEX deals_owner ON deals(owner, stage);

-- index deals_stage
CREATE INDEX deals_stage ON deals(stage, stage_changed_at);

-- index deals_won
CREATE INDEX deals_won ON deals(won_at) WHERE won_at IS NOT NULL;

-- index orders_customer_value
CREATE INDEX orders_customer_value
            ON orders(customer_id, ordered_at, amount, currency);

-- index orders_ordered
CREATE INDEX orders_ordered ON orders(ordered_at);

-- index orders_report
CREATE INDEX orders_report ON orders(ordered_at, currency, amount);

-- index pending_purges_open
CREATE INDEX pending_purges_open ON pending_purges(done_at);

-- index ticket_events_kind
CREATE INDEX ticket_events_kind ON ticket_events(kind, at);

-- index ticket_events_ticket
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, at);

-- index tickets_assignee
CREATE INDEX tickets_assignee ON tickets(assignee, status);

-- index tickets_category
CREATE INDEX tickets_category ON tickets(category);

-- index tickets_created
CREATE INDEX tickets_created ON tickets(created_at);

-- index tickets_customer
CREATE INDEX tickets_customer ON tickets(customer_id);

-- index tickets_deal
CREATE INDEX tickets_deal ON tickets(deal_id) WHERE deal_id IS NOT NULL;

-- index tickets_due
CREATE INDEX tickets_due ON tickets(due_at);

-- index tickets_resolved
CREATE INDEX tickets_resolved ON tickets(resolved_at);

-- index tickets_status
CREATE INDEX tickets_status ON tickets(status, priority);

-- trigger audit_log_no_delete
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
        END;

-- trigger audit_log_no_update
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        WHEN NOT (
            new.id IS old.id AND new.at IS old.at AND new.actor IS old.actor
            AND new.action IS old.action AND new.entity IS old.entity
            AND new.entity_id IS old.entity_id AND new.prev_hash IS old.prev_hash
            AND new.hash IS old.hash AND new.details_sha256 IS old.details_sha256
            AND new.mac IS old.mac
            AND EXISTS (SELECT 1 FROM audit_redactions r
                        WHERE r.audit_id = old.id AND r.details IS new.details)
        )
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: only a recorded redaction may change details');
        END;

-- trigger audit_redactions_no_delete
CREATE TRIGGER audit_redactions_no_delete BEFORE DELETE ON audit_redactions
        BEGIN
            SELECT RAISE(ABORT, 'audit_redactions is append-only');
        END;

-- trigger audit_redactions_no_update
CREATE TRIGGER audit_redactions_no_update BEFORE UPDATE ON audit_redactions
        BEGIN
            SELECT RAISE(ABORT, 'audit_redactions is append-only');
        END;

-- trigger audit_seal_no_delete
CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seal
        BEGIN
            SELECT RAISE(ABORT, 'audit_seal cannot be deleted');
        END;

-- trigger change_log_agent_skills_delete
CREATE TRIGGER change_log_agent_skills_delete AFTER DELETE ON agent_skills BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', old.agent_id, 0); END;

-- trigger change_log_agent_skills_insert
CREATE TRIGGER change_log_agent_skills_insert AFTER INSERT ON agent_skills BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', new.agent_id, 0); END;

-- trigger change_log_agent_skills_update
CREATE TRIGGER change_log_agent_skills_update AFTER UPDATE ON agent_skills BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', new.agent_id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'agents', old.agent_id, 0 WHERE old.agent_id IS NOT new.agent_id; END;

-- trigger change_log_agents_delete
CREATE TRIGGER change_log_agents_delete AFTER DELETE ON agents BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', old.id, 0); END;

-- trigger change_log_agents_insert
CREATE TRIGGER change_log_agents_insert AFTER INSERT ON agents BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', new.id, 0); END;

-- trigger change_log_agents_update
CREATE TRIGGER change_log_agents_update AFTER UPDATE ON agents BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('agents', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'agents', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_campaign_members_delete
CREATE TRIGGER change_log_campaign_members_delete AFTER DELETE ON campaign_members BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaign_members', old.campaign_id, old.customer_id); END;

-- trigger change_log_campaign_members_insert
CREATE TRIGGER change_log_campaign_members_insert AFTER INSERT ON campaign_members BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaign_members', new.campaign_id, new.customer_id); END;

-- trigger change_log_campaign_members_update
CREATE TRIGGER change_log_campaign_members_update AFTER UPDATE ON campaign_members BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaign_members', new.campaign_id, new.customer_id); INSERT INTO change_log(entity, key1, key2) SELECT 'campaign_members', old.campaign_id, old.customer_id WHERE old.campaign_id IS NOT new.campaign_id OR old.customer_id IS NOT new.customer_id; END;

-- trigger change_log_campaigns_delete
CREATE TRIGGER change_log_campaigns_delete AFTER DELETE ON campaigns BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaigns', old.id, 0); END;

-- trigger change_log_campaigns_insert
CREATE TRIGGER change_log_campaigns_insert AFTER INSERT ON campaigns BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaigns', new.id, 0); END;

-- trigger change_log_campaigns_update
CREATE TRIGGER change_log_campaigns_update AFTER UPDATE ON campaigns BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('campaigns', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'campaigns', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_communications_delete
CREATE TRIGGER change_log_communications_delete AFTER DELETE ON communications BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('communications', old.id, 0); END;

-- trigger change_log_communications_insert
CREATE TRIGGER change_log_communications_insert AFTER INSERT ON communications BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('communications', new.id, 0); END;

-- trigger change_log_communications_update
CREATE TRIGGER change_log_communications_update AFTER UPDATE ON communications BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('communications', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'communications', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_companies_delete
CREATE TRIGGER change_log_companies_delete AFTER DELETE ON companies BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', old.id, 0); END;

-- trigger change_log_companies_insert
CREATE TRIGGER change_log_companies_insert AFTER INSERT ON companies BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', new.id, 0); END;

-- trigger change_log_companies_update
CREATE TRIGGER change_log_companies_update AFTER UPDATE ON companies BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', new.id, 0); END;

-- trigger change_log_company_tags_delete
CREATE TRIGGER change_log_company_tags_delete AFTER DELETE ON company_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', old.company_id, 0); END;

-- trigger change_log_company_tags_insert
CREATE TRIGGER change_log_company_tags_insert AFTER INSERT ON company_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', new.company_id, 0); END;

-- trigger change_log_company_tags_update
CREATE TRIGGER change_log_company_tags_update AFTER UPDATE ON company_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('companies', new.company_id, 0); END;

-- trigger change_log_custom_values_delete
CREATE TRIGGER change_log_custom_values_delete AFTER DELETE ON custom_values BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('custom_values', old.field_id, old.entity_id); END;

-- trigger change_log_custom_values_insert
CREATE TRIGGER change_log_custom_values_insert AFTER INSERT ON custom_values BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('custom_values', new.field_id, new.entity_id); END;

-- trigger change_log_custom_values_update
CREATE TRIGGER change_log_custom_values_update AFTER UPDATE ON custom_values BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('custom_values', new.field_id, new.entity_id); END;

-- trigger change_log_customer_tags_delete
CREATE TRIGGER change_log_customer_tags_delete AFTER DELETE ON customer_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', old.customer_id, 0); END;

-- trigger change_log_customer_tags_insert
CREATE TRIGGER change_log_customer_tags_insert AFTER INSERT ON customer_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', new.customer_id, 0); END;

-- trigger change_log_customer_tags_update
CREATE TRIGGER change_log_customer_tags_update AFTER UPDATE ON customer_tags BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', new.customer_id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'customers', old.customer_id, 0 WHERE old.customer_id IS NOT new.customer_id; END;

-- trigger change_log_customers_delete
CREATE TRIGGER change_log_customers_delete AFTER DELETE ON customers BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', old.id, 0); END;

-- trigger change_log_customers_insert
CREATE TRIGGER change_log_customers_insert AFTER INSERT ON customers BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', new.id, 0); END;

-- trigger change_log_customers_update
CREATE TRIGGER change_log_customers_update AFTER UPDATE ON customers BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('customers', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'customers', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_deal_events_delete
CREATE TRIGGER change_log_deal_events_delete AFTER DELETE ON deal_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deal_events', old.id, 0); END;

-- trigger change_log_deal_events_insert
CREATE TRIGGER change_log_deal_events_insert AFTER INSERT ON deal_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deal_events', new.id, 0); END;

-- trigger change_log_deal_events_update
CREATE TRIGGER change_log_deal_events_update AFTER UPDATE ON deal_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deal_events', new.id, 0); END;

-- trigger change_log_deals_delete
CREATE TRIGGER change_log_deals_delete AFTER DELETE ON deals BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deals', old.id, 0); END;

-- trigger change_log_deals_insert
CREATE TRIGGER change_log_deals_insert AFTER INSERT ON deals BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deals', new.id, 0); END;

-- trigger change_log_deals_update
CREATE TRIGGER change_log_deals_update AFTER UPDATE ON deals BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('deals', new.id, 0); END;

-- trigger change_log_orders_delete
CREATE TRIGGER change_log_orders_delete AFTER DELETE ON orders BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('orders', old.id, 0); END;

-- trigger change_log_orders_insert
CREATE TRIGGER change_log_orders_insert AFTER INSERT ON orders BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('orders', new.id, 0); END;

-- trigger change_log_orders_update
CREATE TRIGGER change_log_orders_update AFTER UPDATE ON orders BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('orders', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'orders', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_ticket_events_delete
CREATE TRIGGER change_log_ticket_events_delete AFTER DELETE ON ticket_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('ticket_events', old.id, 0); END;

-- trigger change_log_ticket_events_insert
CREATE TRIGGER change_log_ticket_events_insert AFTER INSERT ON ticket_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('ticket_events', new.id, 0); END;

-- trigger change_log_ticket_events_update
CREATE TRIGGER change_log_ticket_events_update AFTER UPDATE ON ticket_events BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('ticket_events', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'ticket_events', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger change_log_tickets_delete
CREATE TRIGGER change_log_tickets_delete AFTER DELETE ON tickets BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('tickets', old.id, 0); END;

-- trigger change_log_tickets_insert
CREATE TRIGGER change_log_tickets_insert AFTER INSERT ON tickets BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('tickets', new.id, 0); END;

-- trigger change_log_tickets_update
CREATE TRIGGER change_log_tickets_update AFTER UPDATE ON tickets BEGIN INSERT INTO change_log(entity, key1, key2) VALUES ('tickets', new.id, 0); INSERT INTO change_log(entity, key1, key2) SELECT 'tickets', old.id, 0 WHERE old.id IS NOT new.id; END;

-- trigger comm_hourly_ad
CREATE TRIGGER comm_hourly_ad AFTER DELETE ON communications BEGIN
            UPDATE comm_hourly SET n = n - 1
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction;
            DELETE FROM comm_hourly
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction AND n <= 0;
        END;

-- trigger comm_hourly_ai
CREATE TRIGGER comm_hourly_ai AFTER INSERT ON communications BEGIN
            INSERT INTO comm_hourly(hour_utc, channel, direction, n)
            VALUES (substr(new.occurred_at, 1, 13), new.channel, new.direction, 1)
            ON CONFLICT(hour_utc, channel, direction) DO UPDATE SET n = n + 1;
        END;

-- trigger comm_hourly_au
CREATE TRIGGER comm_hourly_au AFTER UPDATE OF occurred_at, channel, direction
        ON communications BEGIN
            UPDATE comm_hourly SET n = n - 1
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction;
            DELETE FROM comm_hourly
            WHERE hour_utc = substr(old.occurred_at, 1, 13)
              AND channel = old.channel AND direction = old.direction AND n <= 0;
            INSERT INTO comm_hourly(hour_utc, channel, direction, n)
            VALUES (substr(new.occurred_at, 1, 13), new.channel, new.direction, 1)
            ON CONFLICT(hour_utc, channel, direction) DO UPDATE SET n = n + 1;
        END;

-- trigger custom_values_companies_ad
CREATE TRIGGER custom_values_companies_ad AFTER DELETE ON companies BEGIN DELETE FROM custom_values WHERE entity_id = old.id AND field_id IN (SELECT id FROM custom_fields WHERE entity = 'company'); END;

-- trigger custom_values_customers_ad
CREATE TRIGGER custom_values_customers_ad AFTER DELETE ON customers BEGIN DELETE FROM custom_values WHERE entity_id = old.id AND field_id IN (SELECT id FROM custom_fields WHERE entity = 'customer'); END;

-- trigger custom_values_deals_ad
CREATE TRIGGER custom_values_deals_ad AFTER DELETE ON deals BEGIN DELETE FROM custom_values WHERE entity_id = old.id AND field_id IN (SELECT id FROM custom_fields WHERE entity = 'deal'); END;

-- trigger custom_values_tickets_ad
CREATE TRIGGER custom_values_tickets_ad AFTER DELETE ON tickets BEGIN DELETE FROM custom_values WHERE entity_id = old.id AND field_id IN (SELECT id FROM custom_fields WHERE entity = 'ticket'); END;

-- trigger customers_fts_ad
CREATE TRIGGER customers_fts_ad AFTER DELETE ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= old.id AND p.hi >= old.id)
        BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
        END;

-- trigger customers_fts_ai
CREATE TRIGGER customers_fts_ai AFTER INSERT ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= new.id AND p.hi >= new.id)
        BEGIN
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;

-- trigger customers_fts_au
CREATE TRIGGER customers_fts_au AFTER UPDATE OF name, email, phone, company ON customers
        WHEN NOT EXISTS (SELECT 1 FROM customers_fts_pending p
                         WHERE p.lo <= old.id AND p.hi >= old.id)
        BEGIN
            INSERT INTO customers_fts(customers_fts, rowid, name, email, phone, company)
            VALUES ('delete', old.id, old.name, old.email, old.phone, old.company);
            INSERT INTO customers_fts(rowid, name, email, phone, company)
            VALUES (new.id, new.name, new.email, new.phone, new.company);
        END;

-- trigger customers_unique_guard_insert
CREATE TRIGGER customers_unique_guard_insert BEFORE INSERT ON customers
        WHEN EXISTS (SELECT 1 FROM deferred_indexes
                     WHERE name IN ('customers_email', 'customers_external_id'))
        BEGIN
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.email')
            WHERE new.email IS NOT NULL
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_email')
              AND EXISTS (SELECT 1 FROM customers WHERE email = new.email);
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.external_id')
            WHERE new.external_id IS NOT NULL
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_external_id')
              AND EXISTS (SELECT 1 FROM customers WHERE external_id = new.external_id);
        END;

-- trigger customers_unique_guard_update
CREATE TRIGGER customers_unique_guard_update BEFORE UPDATE OF email, external_id
        ON customers
        WHEN EXISTS (SELECT 1 FROM deferred_indexes
                     WHERE name IN ('customers_email', 'customers_external_id'))
        BEGIN
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.email')
            WHERE new.email IS NOT NULL AND new.email IS NOT old.email
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_email')
              AND EXISTS (SELECT 1 FROM customers WHERE email = new.email AND id <> old.id);
            SELECT RAISE(ABORT, 'UNIQUE constraint failed: customers.external_id')
            WHERE new.external_id IS NOT NULL AND new.external_id IS NOT old.external_id
              AND EXISTS (SELECT 1 FROM deferred_indexes WHERE name = 'customers_external_id')
              AND EXISTS (SELECT 1 FROM customers
                          WHERE external_id = new.external_id AND id <> old.id);
        END;

