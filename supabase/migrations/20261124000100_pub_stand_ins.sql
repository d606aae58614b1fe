-- Shared tables of the pub's existing app (The Anchor Management Tools), as
-- /work/shared/reference/existing-schema.md sections 1.1 to 1.13 describe them.
--
-- On the pub's real Supabase project every object here already exists and this file changes
-- nothing of it: a table is made only where it is missing, as a stand-in (listed in
-- table_booking_service.stand_ins), and only a stand-in gets this file's indexes, triggers,
-- row-level security, policies and grants. Functions the pub has are never replaced and their
-- privileges are not touched (the pub's RLS policies call user_has_permission() as
-- `authenticated`). On a new project, Debian PostgreSQL or the embedded server it creates them.
--
-- Core PostgreSQL 15+ only: SQL and plpgsql, no extensions. Idempotent.
-- Needs 20261124000000_supabase_compat.sql (roles, auth.users, auth.role()).

-- ===========================================================================
-- Stand-ins. On the pub's Supabase project every shared table below already exists, with the pub's
-- own indexes, triggers, policies and grants, and this file must change none of it. Where a table
-- is missing (a new project, the embedded server, the tests' fresh database) it is made here as a
-- stand-in, and only a stand-in gets this file's indexes, triggers, row-level security, policies
-- and grants: table_booking_service.stand_ins lists the tables this service created itself.
-- ===========================================================================
create schema if not exists table_booking_service;
revoke all on schema table_booking_service from public;
create table if not exists table_booking_service.stand_ins (
  relation text primary key,
  created_at timestamptz not null default now()
);

-- Runs p_sql only when p_relation (a table in public) is a stand-in this service created.
create or replace function table_booking_service.for_stand_in(p_relation text, p_sql text)
returns void language plpgsql as $$
begin
  if exists (select 1 from table_booking_service.stand_ins where relation = p_relation) then
    execute p_sql;
  end if;
end
$$;

-- Creates index p_name (p_sql, a plain CREATE INDEX on table p_table) unless the table already has
-- an index of the same definition under any name: the pub's index is used instead of a twin.
create or replace function table_booking_service.ensure_index(p_name text, p_table regclass,
                                                               p_sql text)
returns void language plpgsql as $$
declare
  v_ours regclass;
  v_shape text := '^CREATE (UNIQUE )?INDEX \S+ ON ';
begin
  if to_regclass('public.' || quote_ident(p_name)) is not null then
    return;
  end if;
  execute p_sql;
  v_ours := ('public.' || quote_ident(p_name))::regclass;
  if exists (
    select 1 from pg_catalog.pg_index i
    where i.indrelid = p_table and i.indexrelid <> v_ours
      and regexp_replace(pg_catalog.pg_get_indexdef(i.indexrelid), v_shape, 'CREATE \1INDEX ON ')
        = regexp_replace(pg_catalog.pg_get_indexdef(v_ours), v_shape, 'CREATE \1INDEX ON ')
  ) then
    execute format('drop index public.%I', p_name);
  end if;
end
$$;

-- Makes the named functions of this service executable by service_role only (Supabase grants
-- new functions to anon and authenticated by default).
create or replace function table_booking_service.service_role_only(p_names text[])
returns void language plpgsql as $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_catalog.pg_proc p
    where p.pronamespace::regnamespace::text || '.' || p.proname = any (p_names)
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;

insert into table_booking_service.stand_ins (relation)
select t from unnest(array[
  'customers', 'messages', 'message_delivery_status', 'jobs', 'audit_logs',
  'business_hours_versions', 'business_hours', 'special_hours',
  'roles', 'permissions', 'role_permissions', 'user_roles',
  'api_keys', 'api_usage', 'webhook_logs', 'sunday_lunch_menu_items',
  'rate_limits', 'system_settings', 'idempotency_keys', 'customer_messaging_health'
]) t
where to_regclass('public.' || t) is null
on conflict do nothing;

-- ===========================================================================
-- Generic updated_at trigger function (needed before any trigger below)
-- ===========================================================================
do $m$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'update_updated_at_column'
  ) then
    execute $fn$
      create function public.update_updated_at_column() returns trigger
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      begin
        new.updated_at := now();
        return new;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.update_updated_at_column() from public, anon, authenticated';
    execute 'grant execute on function public.update_updated_at_column() to service_role';
  end if;
end
$m$;

-- ===========================================================================
-- 1.1 customers
-- ===========================================================================
-- created_at keeps the real default, timezone('utc', now()): a timestamp without time zone that is
-- read back in the session's TimeZone, so it is only right when the session runs in UTC (as
-- Supabase's does).
create table if not exists public.customers (
  id                       uuid primary key default gen_random_uuid(),
  first_name               text not null,
  last_name                text not null,
  mobile_number            text,
  created_at               timestamptz not null default timezone('utc', now()),
  sms_opt_in               boolean default true,
  sms_delivery_failures    integer default 0,
  last_sms_failure_reason  text,
  last_successful_sms_at   timestamptz,
  sms_deactivated_at       timestamptz,
  sms_deactivation_reason  text,
  messaging_status         text default 'active',
  last_successful_delivery timestamptz,
  consecutive_failures     integer default 0,
  total_failures_30d       integer default 0,
  last_failure_type        text,
  constraint chk_customer_name_length
    check (length(first_name) <= 100 and length(last_name) <= 100),
  constraint chk_customer_phone_format
    check (mobile_number is null
           or mobile_number ~ '^\+[1-9]\d{7,14}$'
           or mobile_number ~ '^0[1-9]\d{9,10}$'),
  constraint customers_messaging_status_check
    check (messaging_status in ('active', 'suspended', 'invalid_number', 'opted_out'))
);

-- A customers table made before the June 2025 baseline gains the baseline's columns too.
alter table public.customers add column if not exists sms_opt_in boolean default true;
alter table public.customers add column if not exists sms_delivery_failures integer default 0;
alter table public.customers add column if not exists last_sms_failure_reason text;
alter table public.customers add column if not exists last_successful_sms_at timestamptz;
alter table public.customers add column if not exists sms_deactivated_at timestamptz;
alter table public.customers add column if not exists sms_deactivation_reason text;
alter table public.customers add column if not exists messaging_status text default 'active';
alter table public.customers add column if not exists last_successful_delivery timestamptz;
alter table public.customers add column if not exists consecutive_failures integer default 0;
alter table public.customers add column if not exists total_failures_30d integer default 0;
alter table public.customers add column if not exists last_failure_type text;

-- Jul 2025: table-booking counters
alter table public.customers add column if not exists table_booking_count integer default 0;
alter table public.customers add column if not exists no_show_count integer default 0;
alter table public.customers add column if not exists last_table_booking_date date;
-- Aug 2025: canonical E.164 phone
alter table public.customers add column if not exists mobile_e164 varchar(20);
-- Sep 2025: email
alter table public.customers add column if not exists email text;
-- 2026: notes, raw phone, SMS / email / WhatsApp consent and health
alter table public.customers add column if not exists internal_notes text;
alter table public.customers add column if not exists mobile_number_raw text;
alter table public.customers add column if not exists sms_status text not null default 'active';
alter table public.customers add column if not exists marketing_sms_opt_in boolean not null default false;
alter table public.customers add column if not exists stripe_customer_id text;
alter table public.customers add column if not exists sms_opt_in_at timestamptz;
alter table public.customers add column if not exists sms_opt_in_source text;
alter table public.customers add column if not exists sms_opted_out_at timestamptz;
alter table public.customers add column if not exists marketing_sms_opt_in_at timestamptz;
alter table public.customers add column if not exists marketing_sms_opted_out_at timestamptz;
alter table public.customers add column if not exists email_status text default 'unknown';
alter table public.customers add column if not exists email_delivery_failures integer default 0;
alter table public.customers add column if not exists email_deactivated_at timestamptz;
alter table public.customers add column if not exists last_email_failure_reason text;
alter table public.customers add column if not exists last_successful_email_at timestamptz;
alter table public.customers add column if not exists marketing_email_opt_in boolean not null default false;
alter table public.customers add column if not exists marketing_email_opt_in_at timestamptz;
alter table public.customers add column if not exists marketing_email_opted_out_at timestamptz;
alter table public.customers add column if not exists whatsapp_opt_in boolean default false;
alter table public.customers add column if not exists whatsapp_status text default 'unknown';
alter table public.customers add column if not exists whatsapp_delivery_failures integer default 0;
alter table public.customers add column if not exists last_whatsapp_inbound_at timestamptz;
alter table public.customers add column if not exists marketing_whatsapp_opt_in boolean not null default false;

select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_mobile_number on public.customers (mobile_number)$ix$);
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_messaging_status on public.customers (messaging_status)$ix$);
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_sms_opt_in on public.customers (sms_opt_in)$ix$);
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_consecutive_failures on public.customers (consecutive_failures)$ix$);
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_created_recent on public.customers (created_at desc)$ix$);
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_sms_failures on public.customers (sms_opt_in, sms_delivery_failures)
  where sms_opt_in = false or sms_delivery_failures > 0$ix$);
select table_booking_service.for_stand_in('customers', $ix$create unique index if not exists idx_customers_mobile_e164 on public.customers (mobile_e164)
  where mobile_e164 is not null$ix$);
select table_booking_service.for_stand_in('customers', $ix$create unique index if not exists idx_customers_email_unique on public.customers (lower(email))
  where email is not null$ix$);
-- Should always be empty: a phone-less customer must never claim SMS consent.
select table_booking_service.for_stand_in('customers', $ix$create index if not exists idx_customers_phoneless_sms_claim on public.customers (id)
  where mobile_number is null and (sms_opt_in is true or marketing_sms_opt_in is true)$ix$);

-- ===========================================================================
-- 1.3 messages and message_delivery_status
-- ===========================================================================
create table if not exists public.messages (
  id                 uuid primary key default gen_random_uuid(),
  customer_id        uuid not null,
  direction          text not null,
  message_sid        text not null,
  body               text not null,
  status             text not null,
  created_at         timestamptz not null default timezone('utc', now()),
  updated_at         timestamptz not null default timezone('utc', now()),
  twilio_message_sid text,
  error_code         text,
  error_message      text,
  price              numeric(10,4),
  price_unit         text,
  sent_at            timestamptz,
  delivered_at       timestamptz,
  failed_at          timestamptz,
  read_at            timestamptz,
  twilio_status      text,
  from_number        text,
  to_number          text,
  message_type       text default 'sms',
  segments           integer default 1,
  cost_usd           numeric(10,4),
  constraint messages_direction_check check (direction in ('inbound', 'outbound')),
  constraint messages_message_type_check check (message_type in ('sms', 'mms', 'whatsapp')),
  constraint chk_message_segments check (segments >= 1)
);

-- 2026. The booking ids stay plain uuids here: the FK for table_booking_id is added by the later
-- migration that creates table_bookings; event/private bookings are not part of this service.
alter table public.messages add column if not exists event_booking_id uuid;
alter table public.messages add column if not exists table_booking_id uuid;
alter table public.messages add column if not exists private_booking_id uuid;
alter table public.messages add column if not exists template_key text;
alter table public.messages add column if not exists metadata jsonb;
alter table public.messages add column if not exists has_attachments boolean default false;
alter table public.messages add column if not exists attachments jsonb;

select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_customer_created on public.messages (customer_id, created_at desc)$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_twilio_message_sid on public.messages (twilio_message_sid)$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_twilio_status on public.messages (twilio_status)$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_direction on public.messages (direction)$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_from_number on public.messages (from_number)$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_unread_inbound on public.messages (direction, read_at)
  where direction = 'inbound' and read_at is null$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_event_booking_id on public.messages (event_booking_id)
  where event_booking_id is not null$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_table_booking_id on public.messages (table_booking_id)
  where table_booking_id is not null$ix$);
select table_booking_service.for_stand_in('messages', $ix$create index if not exists idx_messages_private_booking_id on public.messages (private_booking_id)
  where private_booking_id is not null$ix$);

create table if not exists public.message_delivery_status (
  id               uuid primary key default gen_random_uuid(),
  message_id       uuid not null,
  status           text not null,
  error_code       text,
  error_message    text,
  created_at       timestamptz not null default now(),
  raw_webhook_data jsonb
);

select table_booking_service.for_stand_in('message_delivery_status', $ix$create index if not exists idx_message_delivery_status_message_id on public.message_delivery_status (message_id)$ix$);
select table_booking_service.for_stand_in('message_delivery_status', $ix$create index if not exists idx_message_delivery_status_created_at on public.message_delivery_status (created_at)$ix$);

-- ===========================================================================
-- 1.4 jobs
-- ===========================================================================
create table if not exists public.jobs (
  id            uuid primary key default gen_random_uuid(),
  type          varchar(50) not null,
  payload       jsonb not null default '{}'::jsonb,
  status        varchar(20) default 'pending',
  attempts      integer default 0,
  max_attempts  integer default 3,
  priority      integer default 0,
  scheduled_for timestamptz default now(),
  started_at    timestamptz,
  completed_at  timestamptz,
  failed_at     timestamptz,
  error_message text,
  result        jsonb,
  created_at    timestamptz default now(),
  updated_at    timestamptz default now(),
  constraint jobs_status_check
    check (status in ('pending', 'processing', 'completed', 'failed', 'cancelled'))
);

-- Dec 2025: leasing
alter table public.jobs add column if not exists processing_token uuid;
alter table public.jobs add column if not exists lease_expires_at timestamptz;
alter table public.jobs add column if not exists last_heartbeat_at timestamptz;

select table_booking_service.for_stand_in('jobs', $ix$create index if not exists idx_jobs_status_scheduled on public.jobs (status, scheduled_for)
  where status = 'pending'$ix$);
select table_booking_service.for_stand_in('jobs', $ix$create index if not exists idx_jobs_type on public.jobs (type)$ix$);
select table_booking_service.for_stand_in('jobs', $ix$create index if not exists idx_jobs_created_at on public.jobs (created_at desc)$ix$);
select table_booking_service.for_stand_in('jobs', $ix$create index if not exists idx_jobs_priority on public.jobs (priority desc, scheduled_for)
  where status = 'pending'$ix$);
select table_booking_service.for_stand_in('jobs', $ix$create index if not exists idx_jobs_processing_lease on public.jobs (lease_expires_at)
  where status = 'processing'$ix$);

-- ===========================================================================
-- 1.5 audit_logs (immutable; guard triggers further down)
-- ===========================================================================
create table if not exists public.audit_logs (
  id               uuid primary key default gen_random_uuid(),
  created_at       timestamptz not null default now(),
  user_id          uuid,
  user_email       text,
  operation_type   text not null,
  resource_type    text not null,
  resource_id      text,
  operation_status text not null,
  ip_address       inet,
  user_agent       text,
  old_values       jsonb,
  new_values       jsonb,
  error_message    text,
  additional_info  jsonb,
  constraint audit_logs_operation_status_check check (operation_status in ('success', 'failure'))
);

select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_created_at on public.audit_logs (created_at desc)$ix$);
select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_operation_type on public.audit_logs (operation_type)$ix$);
select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_resource on public.audit_logs (resource_type, resource_id)$ix$);
select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_resource_composite
  on public.audit_logs (resource_type, resource_id, created_at desc)$ix$);
select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_user_id on public.audit_logs (user_id)$ix$);
select table_booking_service.for_stand_in('audit_logs', $ix$create index if not exists idx_audit_logs_user_created on public.audit_logs (user_id, created_at desc)$ix$);

-- ===========================================================================
-- 1.6 opening hours: business_hours_versions, business_hours, special_hours
-- ===========================================================================
create table if not exists public.business_hours_versions (
  id             uuid primary key default gen_random_uuid(),
  effective_from date not null,
  status         text not null,
  label          text,
  is_baseline    boolean not null default false,
  created_at     timestamptz not null default now(),
  created_by     uuid,
  published_at   timestamptz,
  published_by   uuid,
  constraint business_hours_versions_status_check check (status in ('draft', 'published', 'withdrawn'))
);

-- At most one published version per date; exactly one baseline.
select table_booking_service.for_stand_in('business_hours_versions', $ix$create unique index if not exists business_hours_versions_published_date_key
  on public.business_hours_versions (effective_from) where status = 'published'$ix$);
select table_booking_service.for_stand_in('business_hours_versions', $ix$create unique index if not exists business_hours_versions_single_baseline
  on public.business_hours_versions ((true)) where is_baseline$ix$);

create table if not exists public.business_hours (
  id             uuid primary key default gen_random_uuid(),
  day_of_week    integer not null,
  opens          time,
  closes         time,
  kitchen_opens  time,
  kitchen_closes time,
  is_closed      boolean default false,
  created_at     timestamptz default now(),
  updated_at     timestamptz default now(),
  constraint business_hours_day_of_week_check check (day_of_week >= 0 and day_of_week <= 6)
);

alter table public.business_hours add column if not exists is_kitchen_closed boolean default false;
alter table public.business_hours add column if not exists schedule_config jsonb default '[]'::jsonb;

-- Aug 2026: version_id. Rows written without a version_id (the current writer, seeds) belong to the
-- baseline version: one published version effective 2000-01-01, made here when none exists, and
-- set as the column default, as the real expand migration did. Its id is fixed so every fresh
-- database gets the same default.
do $m$
declare
  v_baseline uuid;
begin
  if not exists (
    select 1 from pg_catalog.pg_attribute
    where attrelid = 'public.business_hours'::regclass and attname = 'version_id' and not attisdropped
  ) then
    select id into v_baseline from public.business_hours_versions where is_baseline;
    if v_baseline is null then
      insert into public.business_hours_versions (id, effective_from, status, label, is_baseline, published_at)
      values ('00000000-0000-4000-8000-000000000001', date '2000-01-01', 'published', 'Baseline', true, now())
      returning id into v_baseline;
    end if;
    -- A constant default also fills every existing row.
    execute format('alter table public.business_hours add column version_id uuid not null default %L::uuid',
                   v_baseline);
  end if;
end
$m$;

create table if not exists public.special_hours (
  id             uuid primary key default gen_random_uuid(),
  date           date not null,
  opens          time,
  closes         time,
  kitchen_opens  time,
  kitchen_closes time,
  is_closed      boolean default false,
  note           text,
  created_at     timestamptz default now(),
  updated_at     timestamptz default now(),
  constraint special_hours_date_key unique (date)
);

alter table public.special_hours add column if not exists is_kitchen_closed boolean default false;
alter table public.special_hours add column if not exists schedule_config jsonb default '[]'::jsonb;
alter table public.special_hours add column if not exists kitchen_pace_covers integer;
alter table public.special_hours add column if not exists kitchen_walk_in_reserve integer;

-- ===========================================================================
-- 1.7 RBAC
-- ===========================================================================
create table if not exists public.roles (
  id          uuid primary key default gen_random_uuid(),
  name        text not null,
  description text,
  is_system   boolean default false,
  created_at  timestamptz default now(),
  updated_at  timestamptz default now(),
  constraint roles_name_key unique (name)
);

create table if not exists public.permissions (
  id          uuid primary key default gen_random_uuid(),
  module_name text not null,
  action      text not null,
  description text,
  created_at  timestamptz default now(),
  constraint permissions_module_name_action_key unique (module_name, action)
);

create table if not exists public.role_permissions (
  role_id       uuid not null,
  permission_id uuid not null,
  created_at    timestamptz default now(),
  constraint role_permissions_pkey primary key (role_id, permission_id)
);

create table if not exists public.user_roles (
  user_id     uuid not null,
  role_id     uuid not null,
  assigned_at timestamptz default now(),
  assigned_by uuid,
  constraint user_roles_pkey primary key (user_id, role_id)
);

select table_booking_service.for_stand_in('permissions', $ix$create index if not exists idx_permissions_module_name on public.permissions (module_name)$ix$);
select table_booking_service.for_stand_in('role_permissions', $ix$create index if not exists idx_role_permissions_role_id on public.role_permissions (role_id)$ix$);
select table_booking_service.for_stand_in('role_permissions', $ix$create index if not exists idx_role_permissions_permission_id on public.role_permissions (permission_id)$ix$);
select table_booking_service.for_stand_in('user_roles', $ix$create index if not exists idx_user_roles_user_id on public.user_roles (user_id)$ix$);
select table_booking_service.for_stand_in('user_roles', $ix$create index if not exists idx_user_roles_role_id on public.user_roles (role_id)$ix$);

-- ===========================================================================
-- 1.8 api_keys and api_usage
-- ===========================================================================
create table if not exists public.api_keys (
  id           uuid primary key default gen_random_uuid(),
  key_hash     varchar(255) not null,
  name         varchar(255) not null,
  description  text,
  permissions  jsonb default '["read:events"]'::jsonb,
  rate_limit   integer default 1000,
  is_active    boolean default true,
  last_used_at timestamptz,
  expires_at   timestamptz,
  created_at   timestamptz default now(),
  updated_at   timestamptz default now(),
  constraint api_keys_key_hash_key unique (key_hash)
);

create table if not exists public.api_usage (
  id               uuid primary key default gen_random_uuid(),
  api_key_id       uuid not null,
  endpoint         varchar(255) not null,
  method           varchar(10) not null,
  status_code      integer,
  response_time_ms integer,
  ip_address       inet,
  user_agent       text,
  created_at       timestamptz default now()
);

select table_booking_service.for_stand_in('api_usage', $ix$create index if not exists idx_api_usage_key_time on public.api_usage (api_key_id, created_at desc)$ix$);

-- ===========================================================================
-- 1.9 webhook_logs (customer_id / message_id carry no FK in the real schema)
-- ===========================================================================
create table if not exists public.webhook_logs (
  id            uuid primary key default gen_random_uuid(),
  webhook_type  text not null default 'twilio',
  status        text not null,
  headers       jsonb,
  body          text,
  params        jsonb,
  error_message text,
  error_details jsonb,
  processed_at  timestamptz not null default now(),
  message_sid   text,
  from_number   text,
  to_number     text,
  message_body  text,
  customer_id   uuid,
  message_id    uuid
);

select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_webhook_type on public.webhook_logs (webhook_type)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_status on public.webhook_logs (status)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_processed_at on public.webhook_logs (processed_at desc)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_message_sid on public.webhook_logs (message_sid)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_from_number on public.webhook_logs (from_number)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_to_number on public.webhook_logs (to_number)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_customer_id on public.webhook_logs (customer_id)$ix$);
select table_booking_service.for_stand_in('webhook_logs', $ix$create index if not exists idx_webhook_logs_message_id on public.webhook_logs (message_id)$ix$);

-- ===========================================================================
-- 1.10 sunday_lunch_menu_items (final category CHECK: main, side)
-- ===========================================================================
create table if not exists public.sunday_lunch_menu_items (
  id            uuid primary key default gen_random_uuid(),
  name          varchar(255) not null,
  description   text,
  price         numeric(10,2) not null default 0,
  category      varchar(50) not null,
  is_active     boolean default true,
  display_order integer not null default 0,
  allergens     text[] default '{}'::text[],
  dietary_info  text[] default '{}'::text[],
  created_at    timestamptz default now(),
  updated_at    timestamptz default now()
);

select table_booking_service.for_stand_in('sunday_lunch_menu_items', $ix$create unique index if not exists idx_sunday_lunch_menu_items_name_unique
  on public.sunday_lunch_menu_items (lower(name))$ix$);
select table_booking_service.for_stand_in('sunday_lunch_menu_items', $ix$create index if not exists idx_sunday_lunch_menu_items_category on public.sunday_lunch_menu_items (category)$ix$);
select table_booking_service.for_stand_in('sunday_lunch_menu_items', $ix$create index if not exists idx_sunday_lunch_menu_items_display_order
  on public.sunday_lunch_menu_items (display_order)$ix$);
select table_booking_service.for_stand_in('sunday_lunch_menu_items', $ix$create index if not exists idx_sunday_lunch_menu_items_is_active on public.sunday_lunch_menu_items (is_active)$ix$);

-- ===========================================================================
-- 1.11 rate_limits (RLS on, no policies: service role only)
-- ===========================================================================
create table if not exists public.rate_limits (
  id           uuid primary key default gen_random_uuid(),
  key          varchar(255) not null,
  requests     jsonb default '[]'::jsonb,
  window_ms    integer not null,
  max_requests integer not null,
  created_at   timestamptz default now(),
  updated_at   timestamptz default now(),
  constraint rate_limits_key_key unique (key)
);

-- ===========================================================================
-- 1.12 system_settings (convention: value = {"value": X})
-- ===========================================================================
create table if not exists public.system_settings (
  key         varchar(100) primary key,
  value       jsonb not null,
  description text,
  created_at  timestamptz default now(),
  updated_at  timestamptz default now()
);

-- ===========================================================================
-- 1.13 idempotency_keys
-- ===========================================================================
create table if not exists public.idempotency_keys (
  key          varchar(255) primary key,
  request_hash varchar(64) not null,
  response     jsonb not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null default (now() + interval '24 hours')
);

select table_booking_service.for_stand_in('idempotency_keys', $ix$create index if not exists idx_idempotency_expires on public.idempotency_keys (expires_at)$ix$);

-- ===========================================================================
-- Constraints on later columns, and foreign keys: each added only when no constraint of that
-- name exists on that table.
-- ===========================================================================
do $m$
declare
  c record;
begin
  for c in
    select * from (values
      ('customers', 'customers_sms_status_check',
       $c$check (sms_status in ('active', 'opted_out', 'sms_deactivated'))$c$),
      ('customers', 'customers_email_status_check',
       $c$check (email_status in ('unknown', 'valid', 'bounced', 'complained', 'invalid'))$c$),
      ('customers', 'customers_whatsapp_status_check',
       $c$check (whatsapp_status in ('unknown', 'active', 'opted_out', 'whatsapp_deactivated', 'invalid'))$c$),
      ('messages', 'messages_customer_id_fkey',
       $c$foreign key (customer_id) references public.customers (id) on delete cascade$c$),
      ('message_delivery_status', 'message_delivery_status_message_id_fkey',
       $c$foreign key (message_id) references public.messages (id) on delete cascade$c$),
      ('audit_logs', 'audit_logs_user_id_fkey',
       $c$foreign key (user_id) references auth.users (id)$c$),
      ('business_hours_versions', 'business_hours_versions_created_by_fkey',
       $c$foreign key (created_by) references auth.users (id) on delete set null$c$),
      ('business_hours_versions', 'business_hours_versions_published_by_fkey',
       $c$foreign key (published_by) references auth.users (id) on delete set null$c$),
      ('business_hours', 'check_kitchen_closed_consistency',
       $c$check (is_kitchen_closed = false or (kitchen_opens is null and kitchen_closes is null))$c$),
      ('business_hours', 'business_hours_version_id_fkey',
       $c$foreign key (version_id) references public.business_hours_versions (id) on delete cascade$c$),
      ('business_hours', 'business_hours_version_day_key',
       $c$unique (version_id, day_of_week)$c$),
      ('special_hours', 'check_kitchen_closed_consistency',
       $c$check (is_kitchen_closed = false or (kitchen_opens is null and kitchen_closes is null))$c$),
      ('role_permissions', 'role_permissions_role_id_fkey',
       $c$foreign key (role_id) references public.roles (id) on delete cascade$c$),
      ('role_permissions', 'role_permissions_permission_id_fkey',
       $c$foreign key (permission_id) references public.permissions (id) on delete cascade$c$),
      ('user_roles', 'user_roles_user_id_fkey',
       $c$foreign key (user_id) references auth.users (id) on delete cascade$c$),
      ('user_roles', 'user_roles_role_id_fkey',
       $c$foreign key (role_id) references public.roles (id) on delete cascade$c$),
      ('user_roles', 'user_roles_assigned_by_fkey',
       $c$foreign key (assigned_by) references auth.users (id)$c$),
      ('api_usage', 'api_usage_api_key_id_fkey',
       $c$foreign key (api_key_id) references public.api_keys (id) on delete cascade$c$),
      ('sunday_lunch_menu_items', 'sunday_lunch_menu_items_category_check',
       $c$check (category in ('main', 'side'))$c$)
    ) as t (tbl, con, def)
  loop
    if not exists (
      select 1 from pg_catalog.pg_constraint
      where conrelid = format('public.%I', c.tbl)::regclass and conname = c.con
    ) then
      execute format('alter table public.%I add constraint %I %s', c.tbl, c.con, c.def);
    end if;
  end loop;
end
$m$;

-- ===========================================================================
-- 1.2 customer_messaging_health (VIEW): created only when missing
-- ===========================================================================
do $m$
begin
  if pg_catalog.to_regclass('public.customer_messaging_health') is null then
    execute $v$
      create view public.customer_messaging_health with (security_invoker = true) as
      select
        c.id,
        c.first_name,
        c.last_name,
        c.mobile_number,
        c.messaging_status,
        c.sms_opt_in,
        c.consecutive_failures,
        c.total_failures_30d,
        c.last_successful_delivery,
        c.last_failure_type,
        count(m.id) as total_messages_sent,
        count(m.id) filter (where m.twilio_status = 'delivered') as messages_delivered,
        count(m.id) filter (where m.twilio_status in ('failed', 'undelivered')) as messages_failed,
        case
          when count(m.id) > 0 then
            round(count(m.id) filter (where m.twilio_status = 'delivered')::numeric
                  / count(m.id)::numeric * 100, 2)
          else 0::numeric
        end as delivery_rate,
        sum(coalesce(m.cost_usd, 0)) as total_cost_usd,
        max(m.created_at) as last_message_date
      from public.customers c
      left join public.messages m on m.customer_id = c.id and m.direction = 'outbound'
      group by c.id
    $v$;
  end if;
end
$m$;

-- ===========================================================================
-- Functions of the real project: each created only when no function of that name exists in
-- schema public, never replaced. SECURITY DEFINER with a pinned search_path; EXECUTE for
-- service_role only, set when this file creates the function.
-- ===========================================================================

-- 1.5 audit log guards and log_audit_event
do $m$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'prevent_audit_log_update'
  ) then
    execute $fn$
      create function public.prevent_audit_log_update() returns trigger
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      begin
        raise exception 'audit_logs is append-only: rows cannot be updated';
      end
      $body$
    $fn$;
    execute 'revoke all on function public.prevent_audit_log_update() from public, anon, authenticated';
    execute 'grant execute on function public.prevent_audit_log_update() to service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'prevent_audit_log_deletion'
  ) then
    execute $fn$
      create function public.prevent_audit_log_deletion() returns trigger
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      begin
        raise exception 'audit_logs is append-only: rows cannot be deleted';
      end
      $body$
    $fn$;
    execute 'revoke all on function public.prevent_audit_log_deletion() from public, anon, authenticated';
    execute 'grant execute on function public.prevent_audit_log_deletion() to service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'log_audit_event'
  ) then
    execute $fn$
      create function public.log_audit_event(
        p_user_id          uuid,
        p_user_email       text,
        p_operation_type   text,
        p_resource_type    text,
        p_resource_id      text,
        p_operation_status text,
        p_ip_address       inet  default null,
        p_user_agent       text  default null,
        p_old_values       jsonb default null,
        p_new_values       jsonb default null,
        p_error_message    text  default null,
        p_additional_info  jsonb default null
      ) returns uuid
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      declare
        v_id uuid;
      begin
        insert into public.audit_logs (
          user_id, user_email, operation_type, resource_type, resource_id, operation_status,
          ip_address, user_agent, old_values, new_values, error_message, additional_info
        ) values (
          p_user_id, p_user_email, p_operation_type, p_resource_type, p_resource_id, p_operation_status,
          p_ip_address, p_user_agent, p_old_values, p_new_values, p_error_message, p_additional_info
        )
        returning id into v_id;
        return v_id;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.log_audit_event(uuid, text, text, text, text, text, inet, text, jsonb, jsonb, text, jsonb) from public, anon, authenticated';
    execute 'grant execute on function public.log_audit_event(uuid, text, text, text, text, text, inet, text, jsonb, jsonb, text, jsonb) to service_role';
  end if;
end
$m$;

-- 1.7 RBAC helpers
do $m$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'user_has_permission'
  ) then
    execute $fn$
      create function public.user_has_permission(p_user_id uuid, p_module_name text, p_action text)
      returns boolean
      language sql
      stable
      security definer
      set search_path = public, pg_temp
      as $body$
        select exists (
          select 1
          from public.user_roles ur
          join public.role_permissions rp on rp.role_id = ur.role_id
          join public.permissions p on p.id = rp.permission_id
          where ur.user_id = p_user_id
            and p.module_name = p_module_name
            and p.action = p_action
        )
      $body$
    $fn$;
    execute 'revoke all on function public.user_has_permission(uuid, text, text) from public, anon, authenticated';
    -- Row-level security policies call it as the signed-in user, as in the pub's project.
    execute 'grant execute on function public.user_has_permission(uuid, text, text) to authenticated, service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'get_user_permissions'
  ) then
    execute $fn$
      create function public.get_user_permissions(p_user_id uuid)
      returns table (module_name text, action text)
      language sql
      stable
      security definer
      set search_path = public, pg_temp
      as $body$
        select distinct p.module_name, p.action
        from public.user_roles ur
        join public.role_permissions rp on rp.role_id = ur.role_id
        join public.permissions p on p.id = rp.permission_id
        where ur.user_id = p_user_id
        order by p.module_name, p.action
      $body$
    $fn$;
    execute 'revoke all on function public.get_user_permissions(uuid) from public, anon, authenticated';
    execute 'grant execute on function public.get_user_permissions(uuid) to service_role';
  end if;
end
$m$;

-- 1.11 / 1.13 cleanup RPCs, each returning the number of rows removed
do $m$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'cleanup_expired_idempotency_keys'
  ) then
    execute $fn$
      create function public.cleanup_expired_idempotency_keys() returns integer
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      declare
        v_deleted integer;
      begin
        delete from public.idempotency_keys where expires_at < now();
        get diagnostics v_deleted = row_count;
        return v_deleted;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.cleanup_expired_idempotency_keys() from public, anon, authenticated';
    execute 'grant execute on function public.cleanup_expired_idempotency_keys() to service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'cleanup_old_rate_limits'
  ) then
    execute $fn$
      create function public.cleanup_old_rate_limits() returns integer
      language plpgsql
      security definer
      set search_path = public, pg_temp
      as $body$
      declare
        v_deleted integer;
      begin
        delete from public.rate_limits where updated_at < now() - interval '24 hours';
        get diagnostics v_deleted = row_count;
        return v_deleted;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.cleanup_old_rate_limits() from public, anon, authenticated';
    execute 'grant execute on function public.cleanup_old_rate_limits() to service_role';
  end if;
end
$m$;

-- 1.12 settings readers. A missing key, or a value of the wrong shape, gives the caller's default
-- (with a warning for a malformed number) rather than failing the booking that asked.
do $m$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'get_setting_int'
  ) then
    execute $fn$
      create function public.get_setting_int(p_key text, p_default integer) returns integer
      language plpgsql
      stable
      security definer
      set search_path = public, pg_temp
      as $body$
      declare
        v_raw text;
        v_num numeric;
      begin
        select s.value ->> 'value' into v_raw from public.system_settings s where s.key = p_key;
        if v_raw is null then
          return p_default;
        end if;
        begin
          v_num := v_raw::numeric;
          if v_num <> trunc(v_num) then
            raise warning 'setting % is not a whole number (%); using default %', p_key, v_raw, p_default;
            return p_default;
          end if;
          return v_num::integer;
        exception when data_exception then
          raise warning 'setting % is not an integer (%); using default %', p_key, v_raw, p_default;
          return p_default;
        end;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.get_setting_int(text, integer) from public, anon, authenticated';
    execute 'grant execute on function public.get_setting_int(text, integer) to service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname = 'get_setting_bool'
  ) then
    execute $fn$
      create function public.get_setting_bool(p_key text, p_default boolean) returns boolean
      language plpgsql
      stable
      security definer
      set search_path = public, pg_temp
      as $body$
      declare
        v_raw text;
      begin
        select lower(s.value ->> 'value') into v_raw from public.system_settings s where s.key = p_key;
        if v_raw in ('true', 'false') then
          return v_raw::boolean;
        end if;
        return p_default;
      end
      $body$
    $fn$;
    execute 'revoke all on function public.get_setting_bool(text, boolean) from public, anon, authenticated';
    execute 'grant execute on function public.get_setting_bool(text, boolean) to service_role';
  end if;
end
$m$;

-- ===========================================================================
-- Triggers of the stand-in tables
-- ===========================================================================
do $m$
declare
  t record;
begin
  for t in
    select * from (values
      ('jobs',                    'update_jobs_updated_at',                    'before update', 'update_updated_at_column'),
      ('messages',                'update_messages_updated_at',                'before update', 'update_updated_at_column'),
      ('business_hours',          'update_business_hours_updated_at',          'before update', 'update_updated_at_column'),
      ('special_hours',           'update_special_hours_updated_at',           'before update', 'update_updated_at_column'),
      ('roles',                   'update_roles_updated_at',                   'before update', 'update_updated_at_column'),
      ('api_keys',                'update_api_keys_updated_at',                'before update', 'update_updated_at_column'),
      ('sunday_lunch_menu_items', 'update_sunday_lunch_menu_items_updated_at', 'before update', 'update_updated_at_column'),
      ('rate_limits',             'update_rate_limits_updated_at',             'before update', 'update_updated_at_column'),
      ('system_settings',         'update_system_settings_updated_at',         'before update', 'update_updated_at_column'),
      ('audit_logs',              'prevent_audit_log_update',                  'before update', 'prevent_audit_log_update'),
      ('audit_logs',              'prevent_audit_log_delete',                  'before delete', 'prevent_audit_log_deletion')
    ) as v (tbl, trg, timing, fn)
    where tbl in (select relation from table_booking_service.stand_ins)
  loop
    if not exists (
      select 1 from pg_catalog.pg_trigger
      where tgrelid = format('public.%I', t.tbl)::regclass and tgname = t.trg and not tgisinternal
    ) then
      execute format('create trigger %I %s on public.%I for each row execute function public.%I()',
                     t.trg, t.timing, t.tbl, t.fn);
    end if;
  end loop;
end
$m$;

-- ===========================================================================
-- Row level security on every stand-in table; service_role policies where the reference says service-role
-- only (rate_limits deliberately has none, as in the reference; service_role bypasses RLS anyway).
-- ===========================================================================
do $m$
declare
  v_table text;
  p record;
begin
  foreach v_table in array array[
    'customers', 'messages', 'message_delivery_status', 'jobs', 'audit_logs',
    'business_hours_versions', 'business_hours', 'special_hours',
    'roles', 'permissions', 'role_permissions', 'user_roles',
    'api_keys', 'api_usage', 'webhook_logs', 'sunday_lunch_menu_items',
    'rate_limits', 'system_settings', 'idempotency_keys'
  ] loop
    continue when v_table not in (select relation from table_booking_service.stand_ins);
    execute format('alter table public.%I enable row level security', v_table);
    -- Privileges for the service role (Supabase grants these by default; plain PostgreSQL does not).
    execute format('grant select, insert, update, delete on table public.%I to service_role', v_table);
  end loop;

  for p in
    select * from (values
      ('jobs',             'Service role can manage jobs'),
      ('api_keys',         'Service role can manage API keys'),
      ('webhook_logs',     'Service role can manage webhook logs'),
      ('idempotency_keys', 'Service role only')
    ) as v (tbl, pol)
    where tbl in (select relation from table_booking_service.stand_ins)
  loop
    if not exists (
      select 1 from pg_catalog.pg_policies
      where schemaname = 'public' and tablename = p.tbl and policyname = p.pol
    ) then
      execute format('create policy %I on public.%I for all to service_role using (true) with check (true)',
                     p.pol, p.tbl);
    end if;
  end loop;
end
$m$;

-- The view: readable by staff sessions and the service role, not by anon (security_invoker, so the
-- reader's own rights on customers and messages still apply).
select table_booking_service.for_stand_in('customer_messaging_health',
  'revoke all on table public.customer_messaging_health from anon;'
  ' grant select on table public.customer_messaging_health to authenticated, service_role');
