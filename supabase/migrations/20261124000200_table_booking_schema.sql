-- The table-booking schema (existing-schema.md section 2), plus the columns this service needs.
--
-- Safe on the pub's real project and on a new database alike: types and tables are created only
-- where missing, columns added with "if not exists", constraints, triggers and policies only when
-- no object of that name exists, and functions the real project already has are never replaced.

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
  no_show_at timestamptz
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

create unique index if not exists idx_table_bookings_manage_token_hash
  on public.table_bookings (manage_token_hash) where manage_token_hash is not null;
create index if not exists idx_table_bookings_customer_id on public.table_bookings (customer_id);
create index if not exists idx_table_bookings_booking_date on public.table_bookings (booking_date);
create index if not exists idx_table_bookings_status on public.table_bookings (status);
create index if not exists idx_table_bookings_booking_type on public.table_bookings (booking_type);
create index if not exists idx_table_bookings_date_time
  on public.table_bookings (booking_date, booking_time);
create index if not exists idx_bookings_date_status on public.table_bookings (booking_date, status)
  where status in ('confirmed', 'pending_payment');
create index if not exists idx_table_bookings_reminder_status
  on public.table_bookings (status, reminder_sent, booking_date)
  where status = 'confirmed' and not reminder_sent;
create index if not exists idx_table_bookings_correlation_id
  on public.table_bookings (correlation_id);
create index if not exists idx_table_bookings_hold_expires_at on public.table_bookings (hold_expires_at)
  where status = 'pending_payment';

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
create index if not exists idx_table_booking_items_booking_id
  on public.table_booking_items (booking_id);

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
create index if not exists idx_table_booking_payments_booking_id
  on public.table_booking_payments (booking_id);
create index if not exists idx_table_booking_payments_transaction_id
  on public.table_booking_payments (transaction_id);

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
create index if not exists idx_table_booking_reminder_history_booking_id
  on public.table_booking_reminder_history (booking_id);

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
create index if not exists idx_table_booking_modifications_booking_id
  on public.table_booking_modifications (booking_id);

-- messages.table_booking_id gets its foreign key now that table_bookings exists ----------------
do $$
begin
  if not exists (
    select 1 from pg_constraint
    where conname = 'messages_table_booking_id_fkey' and conrelid = 'public.messages'::regclass
  ) then
    alter table public.messages
      add constraint messages_table_booking_id_fkey foreign key (table_booking_id)
      references public.table_bookings (id) on delete set null;
  end if;
end
$$;

-- Functions the real project already has: created only where missing --------------------------
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

  if to_regprocedure('public.update_customer_booking_stats()') is null then
    execute $fn$
      create function public.update_customer_booking_stats() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $body$
      begin
        if new.customer_id is null then
          return new;
        end if;
        if new.status = 'confirmed'
           and (tg_op = 'INSERT' or old.status is distinct from 'confirmed') then
          update public.customers
             set table_booking_count = coalesce(table_booking_count, 0) + 1,
                 last_table_booking_date = greatest(last_table_booking_date, new.booking_date)
           where id = new.customer_id;
        end if;
        if new.status = 'no_show'
           and (tg_op = 'INSERT' or old.status is distinct from 'no_show') then
          update public.customers
             set no_show_count = coalesce(no_show_count, 0) + 1
           where id = new.customer_id;
        end if;
        return new;
      end
      $body$
    $fn$;
  end if;
end
$$;

revoke execute on function public.generate_booking_reference() from public, anon, authenticated;
revoke execute on function public.set_booking_reference() from public, anon, authenticated;
revoke execute on function public.update_customer_booking_stats() from public, anon, authenticated;
grant execute on function public.generate_booking_reference() to service_role;

-- Triggers: created only where missing --------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_trigger where tgname = 'set_booking_reference_trigger'
                 and tgrelid = 'public.table_bookings'::regclass) then
    create trigger set_booking_reference_trigger before insert on public.table_bookings
      for each row execute function public.set_booking_reference();
  end if;
  if not exists (select 1 from pg_trigger where tgname = 'update_customer_booking_stats_trigger'
                 and tgrelid = 'public.table_bookings'::regclass) then
    create trigger update_customer_booking_stats_trigger
      after insert or update of status on public.table_bookings
      for each row execute function public.update_customer_booking_stats();
  end if;
  if not exists (select 1 from pg_trigger where tgname = 'update_table_bookings_updated_at'
                 and tgrelid = 'public.table_bookings'::regclass) then
    create trigger update_table_bookings_updated_at before update on public.table_bookings
      for each row execute function public.update_updated_at_column();
  end if;
  if not exists (select 1 from pg_trigger where tgname = 'update_table_booking_payments_updated_at'
                 and tgrelid = 'public.table_booking_payments'::regclass) then
    create trigger update_table_booking_payments_updated_at
      before update on public.table_booking_payments
      for each row execute function public.update_updated_at_column();
  end if;
end
$$;

-- Row-level security: the service uses service_role (which bypasses RLS); staff reading through
-- Supabase with their own login see what their table_bookings permissions allow.
do $$
declare
  t text;
begin
  foreach t in array array[
    'table_bookings', 'table_booking_items', 'table_booking_payments', 'booking_policies',
    'booking_time_slots', 'table_booking_sms_templates', 'table_booking_reminder_history',
    'table_booking_modifications'
  ] loop
    execute format('alter table public.%I enable row level security', t);
    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = t
                   and policyname = t || '_staff_view') then
      execute format(
        'create policy %I on public.%I for select to authenticated using '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''view''))',
        t || '_staff_view', t);
    end if;
    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = t
                   and policyname = t || '_staff_manage') then
      execute format(
        'create policy %I on public.%I for all to authenticated using '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''manage'')) with check '
        '(public.user_has_permission(auth.uid(), ''table_bookings'', ''manage''))',
        t || '_staff_manage', t);
    end if;
  end loop;
end
$$;

-- Permissions: module table_bookings ---------------------------------------------------------
insert into public.roles (name, description, is_system)
values
  ('super_admin', 'Full access to everything', true),
  ('manager', 'Runs the pub', true),
  ('staff', 'Works shifts', true)
on conflict (name) do nothing;

insert into public.permissions (module_name, action, description)
values
  ('table_bookings', 'view', 'View table bookings'),
  ('table_bookings', 'create', 'Create table bookings'),
  ('table_bookings', 'edit', 'Edit table bookings'),
  ('table_bookings', 'cancel', 'Cancel table bookings and process refunds'),
  ('table_bookings', 'manage', 'Full table booking management')
on conflict (module_name, action) do nothing;

insert into public.role_permissions (role_id, permission_id)
select r.id, p.id
from public.roles r
join public.permissions p on p.module_name = 'table_bookings'
where r.name in ('manager', 'super_admin')
   or (r.name = 'staff' and p.action in ('view', 'create', 'edit'))
on conflict do nothing;
