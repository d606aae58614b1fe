-- The table-booking schema (existing-schema.md section 2), plus the columns this service needs.
--
-- On the pub's real project every table here exists (the pub's 2026 shape) and this file only adds
-- this service's own nullable or defaulted columns and plain indexes (see README, "Deploying onto
-- the pub's Supabase project"). Where a table is missing it is made as a stand-in in the pub's
-- shape, and only then does it get the pub's triggers, policies and permissions, copied from the
-- pub's schema (table_booking_service.stand_ins; 20261124000100_pub_stand_ins.sql).

insert into table_booking_service.stand_ins (relation)
select t from unnest(array[
  'table_bookings', 'table_booking_items', 'table_booking_payments', 'booking_policies',
  'booking_time_slots', 'table_booking_sms_templates', 'table_booking_reminder_history',
  'table_booking_modifications'
]) t
where to_regclass('public.' || t) is null
on conflict do nothing;

-- Enums ---------------------------------------------------------------------------------------
do $$
begin
  if to_regtype('public.table_booking_type') is null then
    create type public.table_booking_type as enum ('regular', 'sunday_lunch');
  end if;
  if to_regtype('public.table_booking_status') is null then
    create type public.table_booking_status as enum
      ('pending_payment', 'confirmed', 'cancelled', 'no_show', 'completed');
  end if;
  if to_regtype('public.payment_status') is null then
    create type public.payment_status as enum
      ('pending', 'completed', 'failed', 'refunded', 'partial_refund');
  end if;
  if to_regtype('public.booking_item_type') is null then
    create type public.booking_item_type as enum ('main', 'side', 'extra');
  end if;
  if to_regtype('public.table_booking_payment_method') is null then
    create type public.table_booking_payment_method as enum ('payment_link', 'cash', 'paypal');
  end if;
end
$$;

-- table_bookings ------------------------------------------------------------------------------
create table if not exists public.table_bookings (
  id uuid primary key default gen_random_uuid(),
  booking_reference varchar(20) not null unique,
  customer_id uuid references public.customers (id) on delete restrict,
  booking_date date not null,
  booking_time time not null,
  party_size integer not null check (party_size > 0),
  tables_assigned jsonb,
  booking_type public.table_booking_type not null,
  status public.table_booking_status not null default 'pending_payment',
  duration_minutes integer default 120,
  special_requirements text,
  dietary_requirements text[],
  allergies text[],
  celebration_type varchar(50),
  internal_notes text,
  source varchar(20) default 'website',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz,
  cancellation_reason text,
  completed_at timestamptz,
  no_show_at timestamptz,
  -- The pub's 2026 columns that every writer must fill or that have defaults (pub-engine-2026.md
  -- 7.6): committed_party_size has no default, as on the pub's project.
  committed_party_size integer not null,
  booking_purpose text not null default 'food'
    constraint table_bookings_booking_purpose_check check (booking_purpose in ('food', 'drinks')),
  is_venue_event boolean not null default false,
  deposit_waived boolean not null default false,
  high_chair_count integer not null default 0
    constraint table_bookings_high_chair_count_check check (high_chair_count between 0 and 20),
  is_outside_seating boolean not null default false,
  table_pinned boolean not null default false,
  assignment_soft boolean not null default false,
  requires_accessible_table boolean not null default false,
  left_at timestamptz
);

alter table public.table_bookings
  add column if not exists modification_count integer default 0,
  add column if not exists original_booking_data jsonb,
  add column if not exists email_verification_token uuid,
  add column if not exists email_verified_at timestamptz,
  add column if not exists reminder_sent boolean default false,
  add column if not exists correlation_id uuid default gen_random_uuid(),
  add column if not exists payment_method public.table_booking_payment_method,
  add column if not exists payment_status public.payment_status default 'pending',
  -- Names the pub's 2026 app also uses for the same things.
  add column if not exists hold_expires_at timestamptz,
  add column if not exists start_datetime timestamptz,
  add column if not exists end_datetime timestamptz,
  add column if not exists cancelled_by text,
  add column if not exists no_show_marked_at timestamptz,
  add column if not exists no_show_marked_by uuid,
  add column if not exists review_sms_sent_at timestamptz,
  add column if not exists deposit_amount numeric(10, 2),
  add column if not exists paypal_deposit_order_id text,
  add column if not exists paypal_deposit_capture_id text,
  -- This service's own: the guest's manage token (sha256 hex; the token itself is never stored),
  -- the refund terms in force when the booking was made, the pre-order total, staff overrides.
  add column if not exists manage_token_hash text,
  add column if not exists refund_policy jsonb,
  add column if not exists total_amount numeric(10, 2),
  add column if not exists policy_override boolean not null default false;

-- This service's own indexes on the pub's table: plain (a token hash is unique by construction).
select table_booking_service.ensure_index('idx_table_bookings_manage_token_hash',
  'public.table_bookings',
  $ix$create index idx_table_bookings_manage_token_hash on public.table_bookings (manage_token_hash)
      where manage_token_hash is not null$ix$);
select table_booking_service.ensure_index('idx_table_bookings_hold_expires_at',
  'public.table_bookings',
  $ix$create index idx_table_bookings_hold_expires_at on public.table_bookings (hold_expires_at)
      where status = 'pending_payment'$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_customer_id on public.table_bookings (customer_id)$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_booking_date on public.table_bookings (booking_date)$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_status on public.table_bookings (status)$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_booking_type on public.table_bookings (booking_type)$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_date_time
  on public.table_bookings (booking_date, booking_time)$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_bookings_date_status on public.table_bookings (booking_date, status)
  where status in ('confirmed', 'pending_payment')$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_reminder_status
  on public.table_bookings (status, reminder_sent, booking_date)
  where status = 'confirmed' and not reminder_sent$ix$);
select table_booking_service.for_stand_in('table_bookings', $ix$create index if not exists idx_table_bookings_correlation_id
  on public.table_bookings (correlation_id)$ix$);

-- table_booking_items (Sunday lunch pre-order lines) --------------------------------------------
create table if not exists public.table_booking_items (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references public.table_bookings (id) on delete cascade,
  menu_item_id uuid,
  custom_item_name varchar(255),
  item_type public.booking_item_type not null default 'main',
  quantity integer not null default 1 check (quantity > 0),
  special_requests text,
  price_at_booking numeric(10, 2) not null,
  guest_name varchar(100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint item_name_required check (menu_item_id is not null or custom_item_name is not null)
);
select table_booking_service.for_stand_in('table_booking_items', $ix$create index if not exists idx_table_booking_items_booking_id
  on public.table_booking_items (booking_id)$ix$);

-- table_booking_payments ----------------------------------------------------------------------
create table if not exists public.table_booking_payments (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references public.table_bookings (id) on delete cascade,
  payment_method varchar(20) not null default 'paypal',
  transaction_id varchar(255) unique,
  amount numeric(10, 2) not null,
  currency varchar(3) default 'GBP',
  status public.payment_status not null default 'pending',
  refund_amount numeric(10, 2),
  refund_transaction_id varchar(255),
  payment_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  paid_at timestamptz,
  refunded_at timestamptz
);
select table_booking_service.for_stand_in('table_booking_payments', $ix$create index if not exists idx_table_booking_payments_booking_id
  on public.table_booking_payments (booking_id)$ix$);
select table_booking_service.for_stand_in('table_booking_payments', $ix$create index if not exists idx_table_booking_payments_transaction_id
  on public.table_booking_payments (transaction_id)$ix$);

-- booking_policies ----------------------------------------------------------------------------
create table if not exists public.booking_policies (
  id uuid primary key default gen_random_uuid(),
  booking_type public.table_booking_type not null unique,
  full_refund_hours integer not null default 48,
  partial_refund_hours integer not null default 24,
  partial_refund_percentage integer not null default 50,
  modification_allowed boolean default true,
  cancellation_fee numeric(10, 2) default 0,
  max_party_size integer default 20,
  min_advance_hours integer default 0,
  max_advance_days integer default 56,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The terms the service needs to work at all; a project that has its own rows keeps them.
insert into public.booking_policies
  (booking_type, full_refund_hours, partial_refund_hours, partial_refund_percentage,
   modification_allowed, cancellation_fee, max_party_size, min_advance_hours, max_advance_days)
values
  ('regular', 2, 0, 0, true, 0, 20, 0, 56),
  ('sunday_lunch', 48, 24, 50, true, 0, 20, 0, 56)
on conflict (booking_type) do nothing;

-- booking_time_slots --------------------------------------------------------------------------
create table if not exists public.booking_time_slots (
  id uuid primary key default gen_random_uuid(),
  day_of_week integer not null check (day_of_week between 0 and 6),
  slot_time time not null,
  duration_minutes integer default 120,
  max_covers integer not null,
  booking_type public.table_booking_type default null,
  is_active boolean default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (day_of_week, slot_time, booking_type)
);

-- table_booking_sms_templates -----------------------------------------------------------------
create table if not exists public.table_booking_sms_templates (
  id uuid primary key default gen_random_uuid(),
  template_key varchar(100) not null unique,
  booking_type public.table_booking_type,
  template_text text not null,
  variables text[],
  is_active boolean default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- table_booking_reminder_history --------------------------------------------------------------
create table if not exists public.table_booking_reminder_history (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references public.table_bookings (id) on delete cascade,
  reminder_type varchar(50) not null,
  sent_at timestamptz default now(),
  status varchar(20) not null,
  error_message text,
  metadata jsonb,
  created_at timestamptz not null default now()
);
select table_booking_service.for_stand_in('table_booking_reminder_history', $ix$create index if not exists idx_table_booking_reminder_history_booking_id
  on public.table_booking_reminder_history (booking_id)$ix$);

-- table_booking_modifications -----------------------------------------------------------------
create table if not exists public.table_booking_modifications (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references public.table_bookings (id) on delete cascade,
  modified_by uuid,
  modification_type varchar(50) not null,
  old_values jsonb,
  new_values jsonb,
  created_at timestamptz not null default now()
);
select table_booking_service.for_stand_in('table_booking_modifications', $ix$create index if not exists idx_table_booking_modifications_booking_id
  on public.table_booking_modifications (booking_id)$ix$);

-- messages.table_booking_id gets its foreign key now that table_bookings exists ----------------
do $$
begin
  if 'messages' in (select relation from table_booking_service.stand_ins) and not exists (
    select 1 from pg_constraint
    where conname = 'messages_table_booking_id_fkey' and conrelid = 'public.messages'::regclass
  ) then
    alter table public.messages
      add constraint messages_table_booking_id_fkey foreign key (table_booking_id)
      references public.table_bookings (id) on delete set null;
  end if;
end
$$;

-- The pub's functions, copied from its schema, made only where missing -----------------------------
do $$
begin
  if to_regprocedure('public.generate_booking_reference()') is null then
    execute $fn$
      create function public.generate_booking_reference() returns varchar(20)
      language plpgsql volatile security definer set search_path = public, pg_temp as $body$
      declare
        candidate varchar(20);
      begin
        loop
          candidate := 'TB-' || upper(substring(md5(clock_timestamp()::text || random()::text), 1, 8));
          exit when not exists (select 1 from public.table_bookings where booking_reference = candidate);
        end loop;
        return candidate;
      end
      $body$
    $fn$;
    revoke execute on function public.generate_booking_reference() from public, anon, authenticated;
    grant execute on function public.generate_booking_reference() to service_role;
  end if;

  if to_regprocedure('public.set_booking_reference()') is null then
    execute $fn$
      create function public.set_booking_reference() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $body$
      begin
        if new.booking_reference is null then
          new.booking_reference := public.generate_booking_reference();
        end if;
        return new;
      end
      $body$
    $fn$;
  end if;

  -- The pub's counter (pub-engine-2026.md 9.1): a confirmed insert or a change to confirmed counts
  -- a booking, a change to no_show a no-show; nothing is ever taken back.
  if to_regprocedure('public.update_customer_booking_stats()') is null then
    execute $fn$
      create function public.update_customer_booking_stats() returns trigger
      language plpgsql as $body$
      begin
        if tg_op = 'INSERT' and new.status = 'confirmed' then
          update customers
          set table_booking_count = table_booking_count + 1,
              last_table_booking_date = new.booking_date
          where id = new.customer_id;
        elsif tg_op = 'UPDATE' then
          if old.status != 'no_show' and new.status = 'no_show' then
            update customers
            set no_show_count = no_show_count + 1
            where id = new.customer_id;
          end if;
          if old.status != 'confirmed' and new.status = 'confirmed' then
            update customers
            set table_booking_count = table_booking_count + 1,
                last_table_booking_date = new.booking_date
            where id = new.customer_id;
          end if;
        end if;
        return new;
      end
      $body$
    $fn$;
  end if;
end
$$;

-- The stand-ins' triggers, under the pub's names -----------------------------------------------
do $$
begin
  if 'table_bookings' in (select relation from table_booking_service.stand_ins) then
    if not exists (select 1 from pg_trigger where tgname = 'table_bookings_set_reference'
                   and tgrelid = 'public.table_bookings'::regclass) then
      create trigger table_bookings_set_reference before insert on public.table_bookings
        for each row execute function public.set_booking_reference();
    end if;
    if not exists (select 1 from pg_trigger where tgname = 'update_customer_stats_on_booking'
                   and tgrelid = 'public.table_bookings'::regclass) then
      create trigger update_customer_stats_on_booking after insert or update on public.table_bookings
        for each row execute function public.update_customer_booking_stats();
    end if;
    if not exists (select 1 from pg_trigger where tgname = 'table_bookings_updated_at'
                   and tgrelid = 'public.table_bookings'::regclass) then
      create trigger table_bookings_updated_at before update on public.table_bookings
        for each row execute function public.update_updated_at_column();
    end if;
  end if;
  if 'table_booking_payments' in (select relation from table_booking_service.stand_ins)
     and not exists (select 1 from pg_trigger where tgname = 'table_booking_payments_updated_at'
                     and tgrelid = 'public.table_booking_payments'::regclass) then
    create trigger table_booking_payments_updated_at before update on public.table_booking_payments
      for each row execute function public.update_updated_at_column();
  end if;
end
$$;

-- Row-level security of the stand-ins, as the pub has it on table_bookings: staff reading through
-- Supabase with their own login see and change what their table_bookings permissions allow (the
-- service itself runs as service_role, which bypasses RLS and needs no policy).
do $$
declare
  t text;
begin
  foreach t in array array[
    'table_bookings', 'table_booking_items', 'table_booking_payments', 'booking_policies',
    'booking_time_slots', 'table_booking_sms_templates', 'table_booking_reminder_history',
    'table_booking_modifications'
  ] loop
    continue when t not in (select relation from table_booking_service.stand_ins);
    execute format('alter table public.%I enable row level security', t);
    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = t) then
      execute format(
        'create policy "Staff can view all bookings" on public.%I for select using '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''view''))', t);
      execute format(
        'create policy "Staff can create bookings" on public.%I for insert with check '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''create''))', t);
      execute format(
        'create policy "Staff can update bookings" on public.%I for update using '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''edit''))', t);
      execute format(
        'create policy "Managers can delete bookings" on public.%I for delete using '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''manage''))', t);
    end if;
  end loop;
end
$$;

-- Permissions: module table_bookings, as the pub's project has them (stand-in RBAC only) --------
-- view, create, delete and manage for super_admin and manager; refund for super_admin only; staff
-- view, create and edit (the pub's "FOH status actions"). staff_has_permission maps this service's
-- actions onto these.
do $$
begin
  if 'permissions' not in (select relation from table_booking_service.stand_ins) then
    return;
  end if;
  insert into public.roles (name, description, is_system)
  values
    ('super_admin', 'Full access', true),
    ('manager', 'Manages the pub', true),
    ('staff', 'Works shifts', true)
  on conflict (name) do nothing;

  insert into public.permissions (module_name, action, description)
  values
    ('table_bookings', 'view', 'View table bookings'),
    ('table_bookings', 'create', 'Create table bookings'),
    ('table_bookings', 'delete', 'Delete table bookings'),
    ('table_bookings', 'manage', 'Full table booking management'),
    ('table_bookings', 'edit', 'Edit table bookings and perform FOH status actions'),
    ('table_bookings', 'refund', 'Process refunds (PayPal, cash, bank transfer)')
  on conflict (module_name, action) do nothing;

  insert into public.role_permissions (role_id, permission_id)
  select r.id, p.id
  from public.roles r
  join public.permissions p on p.module_name = 'table_bookings'
  where (r.name = 'super_admin' and p.action in ('view', 'create', 'delete', 'manage', 'refund'))
     or (r.name = 'manager' and p.action in ('view', 'create', 'delete', 'manage'))
     or (r.name = 'staff' and p.action in ('view', 'create', 'edit'))
  on conflict do nothing;
end
$$;
