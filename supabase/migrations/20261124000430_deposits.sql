-- Deposits and seasonal periods (pub-engine-2026.md 6), refusal reasons and public messages (7.3).
--
-- On the pub's project booking_periods, booking_period_menu_items and booking_holds exist, and
-- table_bookings has the terms snapshot columns (6.3): nothing of theirs is touched here. Where
-- they are missing (a new project, the embedded server, the tests' fresh database) they are made
-- as stand-ins in the pub's exact shape (columns, defaults, checks, keys), listed in
-- table_booking_service.stand_ins, and the stand-in table_bookings gains the snapshot columns.
--
-- The rule (tb_resolve_deposit) only decides: the caller writes the snapshot, the booking_holds
-- and payments rows, and decides who may pass the waiver (the pub's public RPC passes the
-- caller's waiver through unchanged, 10.9; ours must not).

insert into table_booking_service.stand_ins (relation)
select t from unnest(array['booking_periods', 'booking_period_menu_items', 'booking_holds']) t
where to_regclass('public.' || t) is null
on conflict do nothing;

-- booking_periods -------------------------------------------------------------------------------
create table if not exists public.booking_periods (
  id uuid not null default gen_random_uuid(),
  code text not null,
  period_kind text not null,
  name text not null,
  starts_on date not null,
  ends_on date not null,
  guest_question text not null,
  guest_blurb text,
  requires_preorder boolean not null default false,
  preorder_cutoff_days integer not null default 7,
  deposit_basis text not null default 'none',
  deposit_amount numeric(10, 2) not null default 0,
  refund_cutoff_days integer not null default 7,
  min_party_size integer,
  max_party_size integer,
  min_notice_hours integer not null default 0,
  legacy_booking_type public.table_booking_type,
  is_active boolean not null default false,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint booking_periods_pkey primary key (id),
  constraint booking_periods_code_key unique (code),
  constraint booking_periods_no_overlap exclude using gist
    (daterange(starts_on, ends_on, '[]') with &&) where (is_active and archived_at is null),
  constraint booking_periods_amount_ck check (deposit_amount >= 0 and deposit_amount <= 1000),
  constraint booking_periods_amount_matches_basis_ck
    check ((deposit_basis = 'none' and deposit_amount = 0)
           or (deposit_basis <> 'none' and deposit_amount > 0)),
  constraint booking_periods_archived_not_active_ck
    check (archived_at is null or is_active = false),
  constraint booking_periods_basis_ck
    check (deposit_basis = any (array['none', 'per_head', 'per_booking'])),
  constraint booking_periods_blurb_ck check (guest_blurb is null or length(guest_blurb) <= 400),
  constraint booking_periods_code_ck
    check (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(code) >= 3 and length(code) <= 60),
  constraint booking_periods_dates_ck check (ends_on >= starts_on),
  constraint booking_periods_kind_ck
    check (period_kind = any (array['christmas', 'mothers_day', 'fathers_day', 'easter',
                                    'new_year', 'valentines', 'other'])),
  constraint booking_periods_max_party_ck
    check (max_party_size is null or (max_party_size >= 1 and max_party_size <= 200)),
  constraint booking_periods_min_party_ck
    check (min_party_size is null or (min_party_size >= 1 and min_party_size <= 200)),
  constraint booking_periods_name_ck
    check (length(btrim(name)) >= 2 and length(btrim(name)) <= 80),
  constraint booking_periods_notice_ck check (min_notice_hours >= 0 and min_notice_hours <= 720),
  constraint booking_periods_party_order_ck
    check (min_party_size is null or max_party_size is null or max_party_size >= min_party_size),
  constraint booking_periods_preorder_cutoff_ck
    check (preorder_cutoff_days >= 0 and preorder_cutoff_days <= 90),
  constraint booking_periods_question_ck
    check (length(btrim(guest_question)) >= 5 and length(btrim(guest_question)) <= 160),
  constraint booking_periods_refund_ck check (refund_cutoff_days >= 0 and refund_cutoff_days <= 90),
  constraint booking_periods_span_ck check ((ends_on - starts_on) <= 366)
);
select table_booking_service.for_stand_in('booking_periods', $ix$create index if not exists booking_periods_live_dates_idx on public.booking_periods (starts_on, ends_on)
  where (is_active and archived_at is null)$ix$);

-- booking_period_menu_items ---------------------------------------------------------------------
create table if not exists public.booking_period_menu_items (
  id uuid not null default gen_random_uuid(),
  period_id uuid not null,
  course text not null,
  name text not null,
  description text,
  price_gbp numeric(10, 2),
  allergens text,
  sort_order integer not null default 0,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint booking_period_menu_items_pkey primary key (id),
  constraint booking_period_menu_items_period_id_fkey foreign key (period_id)
    references public.booking_periods (id) on delete cascade,
  constraint bpmi_allergens_ck check (allergens is null or length(allergens) <= 300),
  constraint bpmi_course_ck
    check (course = any (array['starter', 'main', 'dessert', 'side', 'drink', 'other', 'addon'])),
  constraint bpmi_description_ck check (description is null or length(description) <= 500),
  constraint bpmi_name_ck check (length(btrim(name)) >= 1 and length(btrim(name)) <= 120),
  constraint bpmi_price_ck check (price_gbp is null or (price_gbp >= 0 and price_gbp <= 500)),
  constraint bpmi_sort_ck check (sort_order >= 0 and sort_order <= 999)
);
select table_booking_service.for_stand_in('booking_period_menu_items', $ix$create index if not exists bpmi_period_idx on public.booking_period_menu_items (period_id, sort_order)$ix$);

-- booking_holds (the deposit payment holds of 6.5; event and waitlist holds are not this
-- service's, so on a stand-in their ids stay plain uuids without the pub's foreign keys) ------------
create table if not exists public.booking_holds (
  id uuid not null default gen_random_uuid(),
  hold_type text not null,
  event_booking_id uuid,
  table_booking_id uuid,
  waitlist_offer_id uuid,
  seats_or_covers_held integer not null,
  status text not null default 'active',
  scheduled_sms_send_time timestamptz,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  consumed_at timestamptz,
  released_at timestamptz,
  constraint booking_holds_pkey primary key (id),
  constraint booking_holds_table_booking_id_fkey foreign key (table_booking_id)
    references public.table_bookings (id) on delete cascade,
  constraint booking_holds_hold_type_check
    check (hold_type = any (array['payment_hold', 'waitlist_hold'])),
  constraint booking_holds_reference_check
    check (event_booking_id is not null or table_booking_id is not null
           or waitlist_offer_id is not null),
  constraint booking_holds_seats_or_covers_held_check check (seats_or_covers_held > 0),
  constraint booking_holds_status_check
    check (status = any (array['active', 'consumed', 'released', 'expired']))
);

-- The stand-ins: row-level security as the pub has it (service_role only; it bypasses RLS, the
-- policy is the pub's), privileges for the service role.
do $$
declare
  t text;
begin
  foreach t in array array['booking_periods', 'booking_period_menu_items', 'booking_holds'] loop
    continue when t not in (select relation from table_booking_service.stand_ins);
    execute format('alter table public.%I enable row level security', t);
    execute format('grant select, insert, update, delete on table public.%I to service_role', t);
  end loop;
  if 'booking_periods' in (select relation from table_booking_service.stand_ins)
     and not exists (select 1 from pg_catalog.pg_policies
                     where schemaname = 'public' and tablename = 'booking_periods'
                       and policyname = 'booking_periods_service_role_all') then
    create policy booking_periods_service_role_all on public.booking_periods
      to service_role using (true) with check (true);
  end if;
end
$$;

-- The stand-in table_bookings: the pub's terms snapshot and the deposit columns it lacks
-- (deposit_amount, paypal_deposit_* and deposit_waived are in 20261124000200), the pub's types
-- and checks.
select table_booking_service.for_stand_in('table_bookings', $sql$
  alter table public.table_bookings
    add column if not exists booking_period_id uuid,
    add column if not exists booking_period_code text,
    add column if not exists booking_period_name text,
    add column if not exists booking_period_answer boolean,
    add column if not exists booking_period_requires_preorder boolean,
    add column if not exists deposit_rule text,
    add column if not exists deposit_basis text,
    add column if not exists deposit_rate numeric(10, 2),
    add column if not exists deposit_refund_cutoff_days integer,
    add column if not exists deposit_refund_policy text,
    add column if not exists guest_confirmed_at timestamptz,
    add column if not exists deposit_amount_locked numeric,
    add column if not exists deposit_refund_status text,
    add column if not exists sunday_preorder_cutoff_at timestamptz
$sql$);
do $$
begin
  if 'table_bookings' in (select relation from table_booking_service.stand_ins) then
    if not exists (select 1 from pg_catalog.pg_constraint
                   where conrelid = 'public.table_bookings'::regclass
                     and conname = 'table_bookings_deposit_rule_ck') then
      alter table public.table_bookings add constraint table_bookings_deposit_rule_ck
        check (deposit_rule is null
               or deposit_rule = any (array['none', 'group', 'period', 'manual', 'waived']));
    end if;
    if not exists (select 1 from pg_catalog.pg_constraint
                   where conrelid = 'public.table_bookings'::regclass
                     and conname = 'table_bookings_deposit_basis_ck') then
      alter table public.table_bookings add constraint table_bookings_deposit_basis_ck
        check (deposit_basis is null or deposit_basis = any (array['per_head', 'per_booking']));
    end if;
    if not exists (select 1 from pg_catalog.pg_constraint
                   where conrelid = 'public.table_bookings'::regclass
                     and conname = 'table_bookings_deposit_refund_status_check') then
      alter table public.table_bookings add constraint table_bookings_deposit_refund_status_check
        check (deposit_refund_status = any (array['partially_refunded', 'refunded']));
    end if;
    if not exists (select 1 from pg_catalog.pg_constraint
                   where conrelid = 'public.table_bookings'::regclass
                     and conname = 'table_bookings_booking_period_id_fkey') then
      alter table public.table_bookings add constraint table_bookings_booking_period_id_fkey
        foreign key (booking_period_id) references public.booking_periods (id)
        on delete restrict;
    end if;
  end if;
end
$$;

set local check_function_bodies = off;

-- The one live period covering p_date (is_active, not archived, starts_on <= p_date <= ends_on;
-- booking_periods_no_overlap allows at most one), or a row of nulls when there is none.
create or replace function public.tb_period_for_date(p_date date) returns public.booking_periods
language sql stable security definer set search_path = public, pg_temp as $$
  select p.* from public.booking_periods p
  where p.is_active and p.archived_at is null and p_date between p.starts_on and p.ends_on
  order by p.starts_on
  limit 1
$$;

-- The refund promise stored with seasonal terms, word for word as the pub's describeRefundPolicy
-- (6.3). Null for no cut-off.
create or replace function public.tb_refund_policy_sentence(p_cutoff_days integer) returns text
language sql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
  select case
    when p_cutoff_days is null then null
    when p_cutoff_days <= 0
      then 'The deposit is not refundable once the booking is made, though a manager may waive that.'
    else 'Full refund up to ' || p_cutoff_days || ' days before the booking date. Inside '
         || p_cutoff_days || ' days the deposit is not refunded, though a manager may waive that.'
         || ' The deposit comes off the bill on the day.'
  end
$$;

-- A money amount in words: "GBP 10.00".
create or replace function public.tb_gbp(p_amount numeric) returns text
language sql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
  select 'GBP ' || to_char(p_amount, 'FM999999990.00')
$$;

-- The deposit rule (6.1, 6.2) for a party of p_party on p_date, as one decision:
--   p_period_id      the period the guest's form named (advisory: it must be the live one);
--   p_period_answer  the guest's answer to the period's question (true, false or null);
--   p_purpose        food, drinks or christmas (null is food; christmas accepts a
--                    Christmas-kind live period without an answer);
--   p_waived         a waiver the CALLER has decided this request may have (staff only).
-- In order: invalid_party_size; invalid_purpose; christmas_party_too_small / _too_large (6.4's
-- exceptions, 6 to 20 guests); period_date_mismatch (a named period that is not the live one);
-- period_not_available (answer true, no live period); christmas_not_open (purpose christmas with
-- no live Christmas-kind period, the pub's seasonal type guard); then a waiver wins (rule
-- waived); then, for an accepted period, period_party_too_small / _too_large /
-- period_menu_not_ready, and its amount unless booking_period_deposits_enabled is false; the
-- group rule (15 or more guests, GBP 10.00 a head) always; the larger wins, a tie to the period,
-- never both; when the group rule wins, an accepted period's refund terms still come with it.
-- Returns {blocked (a reason or null), deposit_required, deposit_amount (0 when none),
-- deposit_rule, deposit_basis, deposit_rate, refund_cutoff_days, refund_policy, reason (in words),
-- booking_type (christmas, the accepted period's legacy type, else regular: the Sunday-lunch flag
-- is the caller's), min_notice_hours (the accepted period's, else 24 for christmas, else 0: 5.5),
-- period ({id, code, name, answer, requires_preorder, min_notice_hours} of the live period,
-- answer true when accepted, requires_preorder only when accepted; null when no live period)}.
-- Every column of the terms snapshot (6.3) can be written from it: deposit_amount only when
-- deposit_required.
create or replace function public.tb_resolve_deposit(
  p_party integer,
  p_date date,
  p_period_id uuid,
  p_period_answer boolean,
  p_purpose text,
  p_waived boolean
) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  c_group_min constant integer := 15;
  c_group_rate constant numeric(10, 2) := 10.00;
  v_purpose text := lower(btrim(coalesce(p_purpose, 'food')));
  v_christmas boolean;
  per public.booking_periods;
  v_live boolean;
  v_accepted boolean;
  v_period jsonb;
  v_seasonal numeric(10, 2) := 0;
  v_group numeric(10, 2) := 0;
  v_terms_days integer;
  v_type text;
  v_notice integer;
  v_result jsonb;
begin
  if p_party is null or p_party < 1 then
    return jsonb_build_object('blocked', 'invalid_party_size');
  end if;
  if v_purpose not in ('food', 'drinks', 'christmas') then
    return jsonb_build_object('blocked', 'invalid_purpose');
  end if;
  v_christmas := v_purpose = 'christmas';
  if v_christmas and p_party < 6 then
    return jsonb_build_object('blocked', 'christmas_party_too_small');
  end if;
  if v_christmas and p_party > 20 then
    return jsonb_build_object('blocked', 'christmas_party_too_large');
  end if;

  per := public.tb_period_for_date(p_date);
  v_live := per.id is not null;
  if p_period_id is not null and p_period_id is distinct from per.id then
    return jsonb_build_object('blocked', 'period_date_mismatch');
  end if;
  if coalesce(p_period_answer, false) and not v_live then
    return jsonb_build_object('blocked', 'period_not_available');
  end if;
  if v_christmas and per.period_kind is distinct from 'christmas' then
    return jsonb_build_object('blocked', 'christmas_not_open');
  end if;
  v_accepted := v_live and (coalesce(p_period_answer, false) or v_christmas);

  v_type := case when v_christmas then 'christmas'
                 when v_accepted and per.legacy_booking_type is not null
                   then per.legacy_booking_type::text
                 else 'regular' end;
  v_notice := case when v_accepted then per.min_notice_hours
                   when v_christmas then 24 else 0 end;
  v_period := case when v_live then jsonb_build_object(
    'id', per.id, 'code', per.code, 'name', per.name, 'answer', v_accepted,
    'requires_preorder', case when v_accepted then per.requires_preorder end,
    'min_notice_hours', per.min_notice_hours) end;
  v_result := jsonb_build_object('blocked', null, 'booking_type', v_type,
                                 'min_notice_hours', v_notice, 'period', v_period);

  if coalesce(p_waived, false) then
    return v_result || jsonb_build_object(
      'deposit_required', false, 'deposit_amount', 0, 'deposit_rule', 'waived',
      'deposit_basis', null, 'deposit_rate', null, 'refund_cutoff_days', null,
      'refund_policy', null, 'reason', 'A manager waived the deposit for this booking.');
  end if;

  if v_accepted then
    if per.min_party_size is not null and p_party < per.min_party_size then
      return jsonb_build_object('blocked', 'period_party_too_small');
    end if;
    if per.max_party_size is not null and p_party > per.max_party_size then
      return jsonb_build_object('blocked', 'period_party_too_large');
    end if;
    if per.requires_preorder and not exists (
      select 1 from public.booking_period_menu_items m where m.period_id = per.id and m.is_active
    ) then
      return jsonb_build_object('blocked', 'period_menu_not_ready');
    end if;
    if public.get_setting_bool('booking_period_deposits_enabled', true) then
      v_seasonal := round(case per.deposit_basis
                            when 'per_head' then p_party * per.deposit_amount
                            when 'per_booking' then per.deposit_amount
                            else 0 end, 2);
    end if;
    v_terms_days := per.refund_cutoff_days;
  end if;
  if p_party >= c_group_min then
    v_group := p_party * c_group_rate;
  end if;

  if v_seasonal > 0 and v_seasonal >= v_group then
    return v_result || jsonb_build_object(
      'deposit_required', true, 'deposit_amount', v_seasonal, 'deposit_rule', 'period',
      'deposit_basis', per.deposit_basis, 'deposit_rate', per.deposit_amount,
      'refund_cutoff_days', v_terms_days,
      'refund_policy', public.tb_refund_policy_sentence(v_terms_days),
      'reason', format('%s: a deposit of %s %s.', per.name, public.tb_gbp(per.deposit_amount),
                       case per.deposit_basis when 'per_head' then 'a guest'
                                              else 'for the booking' end));
  end if;
  if v_group > 0 then
    return v_result || jsonb_build_object(
      'deposit_required', true, 'deposit_amount', v_group, 'deposit_rule', 'group',
      'deposit_basis', 'per_head', 'deposit_rate', c_group_rate,
      'refund_cutoff_days', v_terms_days,
      'refund_policy', public.tb_refund_policy_sentence(v_terms_days),
      'reason', format('Parties of %s or more pay a deposit of %s a guest.', c_group_min,
                       public.tb_gbp(c_group_rate)));
  end if;
  return v_result || jsonb_build_object(
    'deposit_required', false, 'deposit_amount', 0, 'deposit_rule', 'none',
    'deposit_basis', null, 'deposit_rate', null, 'refund_cutoff_days', null,
    'refund_policy', null,
    'reason', case when v_accepted and per.deposit_basis <> 'none'
                     and not public.get_setting_bool('booking_period_deposits_enabled', true)
                   then 'No deposit is due: seasonal deposits are switched off.'
                   else 'No deposit is due for this booking.' end);
end
$$;

-- When an unpaid deposit hold lapses (6.5): the earlier of the start and 24 hours from now.
create or replace function public.tb_deposit_hold_expiry(p_start timestamptz, p_now timestamptz)
returns timestamptz
language sql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
  select least(p_start, p_now + interval '24 hours')
$$;

-- The refund due under seasonal terms (6.6): all or nothing, by whole London calendar days
-- between p_today_london (the caller's London date of the cancellation) and p_booking_date: the
-- whole amount when at least p_cutoff_days remain, nothing inside them, and nothing ever when
-- the cut-off is 0. Null when there are no seasonal terms (p_cutoff_days null): the caller's other
-- refund rule applies. A manager's override is the caller's.
create or replace function public.tb_seasonal_refund_due(
  p_amount numeric, p_booking_date date, p_cutoff_days integer, p_today_london date
) returns numeric
language sql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
  select case
    when p_cutoff_days is null then null
    when p_cutoff_days <= 0 or p_amount is null or p_booking_date is null
         or p_today_london is null then 0
    when p_booking_date - p_today_london >= p_cutoff_days then round(p_amount, 2)
    else 0
  end::numeric
$$;

-- The public reason (7.3) for an internal refusal reason: every table reason is tables_full (a
-- private booking or maintenance is never disclosed), pacing and the drinks ceiling kitchen_full,
-- anything unmapped unknown.
create or replace function public.tb_public_reason(p_internal text) returns text
language sql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
  select case
    when p_internal in ('no_table', 'table_occupied', 'table_private_block', 'table_blocked',
                        'table_communal', 'table_held', 'table_not_bookable',
                        'too_large_for_table', 'below_table_minimum', 'not_accessible',
                        'no_high_chair_here', 'private_booking_blocked') then 'tables_full'
    when p_internal in ('slot_full', 'drinks_full') then 'kitchen_full'
    when p_internal = 'outside_full' then 'outside_full'
    when p_internal in ('outside_hours', 'hours_not_configured', 'in_past') then 'closed'
    when p_internal = 'cut_off' then 'too_late'
    when p_internal = 'too_large_party' then 'too_large'
    else 'unknown'
  end
$$;

-- The guest's message for a public reason: setting booking_message_<reason> when it is usable
-- (a JSON string, {"value": "..."} or bare, not blank once trimmed, at most 200 characters, plain
-- text with no angle brackets, the pub's own rules for that setting), else the pub's coded
-- default. Null for a null reason.
create or replace function public.tb_public_message(p_public_reason text) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select case when p_public_reason is not null then coalesce(
    (select btrim(v #>> '{}')
     from (select case when jsonb_typeof(s.value) = 'object' then s.value -> 'value'
                       else s.value end as v
           from public.system_settings s
           where s.key = 'booking_message_' || p_public_reason) m
     where jsonb_typeof(v) = 'string' and btrim(v #>> '{}') <> ''
       and length(btrim(v #>> '{}')) <= 200 and btrim(v #>> '{}') !~ '[<>]'),
    case p_public_reason
      when 'tables_full'
        then 'We are fully booked at that time. Please try another time or give us a ring.'
      when 'kitchen_full'
        then 'Our kitchen is at capacity for that time. There is usually room a little earlier or later.'
      when 'outside_full'
        then 'All our outside tables are taken for that time. We can seat you inside if you would like.'
      when 'closed'
        then 'We are closed then. Have a look at our opening times for another day.'
      when 'too_late'
        then 'That is a little too close to closing for us to seat you. Please pick an earlier time.'
      when 'too_large'
        then 'For a group that size we look after you as a private booking. Get in touch and we will sort it out.'
      else 'We cannot check availability right now. Please give us a ring and we will book you in.'
    end) end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_period_for_date',
  'public.tb_refund_policy_sentence',
  'public.tb_gbp',
  'public.tb_resolve_deposit',
  'public.tb_deposit_hold_expiry',
  'public.tb_seasonal_refund_due',
  'public.tb_public_reason',
  'public.tb_public_message'
]);
