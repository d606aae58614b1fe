-- The floor: which tables seat a booking, as the pub's 2026 engine decides it
-- (/work/shared/reference/pub-engine-2026.md sections 1, 2, 4, 7.2 and 10). How long a booking
-- holds its table (tb_booking_minutes), whether the venue seats by tables at all
-- (tb_venue_has_tables), the table chooser (tb_choose_tables: hard failures, single-table
-- validity, joins through table_join_links, best fit and tie-breaks, maintenance and walk-in
-- holds, private-hire blocks, high-chair and accessible tables), the outside pool
-- (tb_outside_refusal), the high-chair pool (tb_high_chairs_free), the pub's two advisory locks
-- (tb_lock_floor, tb_lock_high_chairs) and how a seated booking is recorded (tb_seat_booking:
-- booking_table_assignments rows or its outside_reservations row).
--
-- Our own SQL, not the pub's functions: the pub's find_table_allocation_candidates,
-- table_is_held, tables_are_connected, is_table_blocked_by_private_booking_v05,
-- count_high_chairs_in_window and the outside cap of create_table_booking_core_v06 are the oracle
-- tests/test_floor.py checks these against, on the pub's own database.
--
-- Liveness is tb_is_live (20261124000400_booking_rules.sql); settings are read with the pub's
-- get_setting_int / get_setting_bool and the pub's defaults; "now" is always passed in (p_now).
--
-- On the pub's database every table read here exists and nothing of it is changed. On a fresh
-- database the floor's tables are made as stand-ins (table_booking_service.stand_ins) in the
-- pub's column shape, with the pub's assignment guard as a stand-in trigger. Private-hire blocks
-- and communal event seats are read only where the pub's tables for them exist (a fresh database
-- has no private hire and no events: nothing is blocked by them there).
-- Idempotent. Needs 20261124000100 (stand-ins), 20261124000200 (table_bookings) and 20261124000400.

set local check_function_bodies = off;

-- ===========================================================================
-- Stand-ins (fresh database only)
-- ===========================================================================
insert into table_booking_service.stand_ins (relation)
select t from unnest(array[
  'tables', 'table_join_links', 'table_holds', 'booking_table_assignments', 'outside_reservations'
]) t
where to_regclass('public.' || t) is null
on conflict do nothing;

do $m$
begin
  if to_regtype('public.table_allocation_overrides') is null then
    create type public.table_allocation_overrides as (
      ignore_minimum boolean,
      ignore_hold boolean,
      allow_unjoined boolean,
      ignore_accessibility boolean
    );
  end if;
end
$m$;

-- area_id is a plain uuid here: the pub's table_areas (its FK target) is not part of this service.
create table if not exists public.tables (
  id                 uuid primary key default gen_random_uuid(),
  table_number       character varying(10) not null,
  capacity           integer not null,
  is_active          boolean default true,
  notes              text,
  created_at         timestamptz default now(),
  updated_at         timestamptz default now(),
  name               text,
  is_bookable        boolean not null default true,
  area               text,
  area_id            uuid,
  priority           integer not null default 100,
  bar_priority       integer not null default 100,
  min_party_size     integer not null default 1,
  step_free          boolean not null default true,
  standard_height    boolean not null default true,
  high_chair_capable boolean not null default true,
  heated             boolean not null default true,
  constraint tables_capacity_check check (capacity > 0),
  constraint tables_min_party_size_within_capacity
    check (min_party_size >= 1 and min_party_size <= capacity),
  constraint tables_priority_positive check (priority >= 0 and bar_priority >= 0)
);

create table if not exists public.table_join_links (
  table_id      uuid not null references public.tables (id) on delete cascade,
  join_table_id uuid not null references public.tables (id) on delete cascade,
  created_at    timestamptz not null default now(),
  created_by    uuid,
  primary key (table_id, join_table_id),
  constraint table_join_links_order_check check (table_id < join_table_id),
  constraint table_join_links_pair_check check (table_id <> join_table_id)
);

create table if not exists public.table_holds (
  id           uuid primary key default gen_random_uuid(),
  scope        text not null default 'table',
  table_id     uuid references public.tables (id) on delete cascade,
  hold_type    text not null,
  status       text not null default 'active',
  starts_on    date not null,
  ends_on      date,
  day_of_week  smallint,
  starts_at    time without time zone not null default '00:00:00',
  ends_at      time without time zone not null default '23:59:00',
  note         text,
  created_by   uuid,
  created_at   timestamptz not null default now(),
  cancelled_by uuid,
  cancelled_at timestamptz,
  constraint table_holds_cancelled_has_timestamp
    check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint table_holds_date_range_valid check (ends_on is null or ends_on >= starts_on),
  constraint table_holds_day_of_week_check check (day_of_week >= 0 and day_of_week <= 6),
  constraint table_holds_hold_type_check check (hold_type in ('walk_in_hold', 'maintenance')),
  constraint table_holds_pending_is_maintenance check (status <> 'pending' or hold_type = 'maintenance'),
  constraint table_holds_scope_check check (scope in ('table', 'outside_all')),
  constraint table_holds_scope_target_consistent
    check ((scope = 'table' and table_id is not null) or (scope = 'outside_all' and table_id is null)),
  constraint table_holds_status_check check (status in ('pending', 'active', 'cancelled'))
);

create table if not exists public.booking_table_assignments (
  id               uuid primary key default gen_random_uuid(),
  table_booking_id uuid not null references public.table_bookings (id) on delete cascade,
  table_id         uuid not null references public.tables (id) on delete restrict,
  start_datetime   timestamptz not null,
  end_datetime     timestamptz not null,
  created_at       timestamptz not null default now(),
  constraint booking_table_assignments_window_check check (end_datetime > start_datetime)
);

create table if not exists public.outside_reservations (
  id               uuid primary key default gen_random_uuid(),
  table_booking_id uuid not null references public.table_bookings (id) on delete cascade,
  tables_reserved  integer not null,
  capacity_basis   integer not null,
  starts_at        timestamptz not null,
  ends_at          timestamptz not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint outside_reservations_one_per_booking unique (table_booking_id),
  constraint outside_reservations_capacity_basis_check check (capacity_basis >= 1),
  constraint outside_reservations_tables_reserved_check check (tables_reserved >= 1),
  constraint outside_reservations_window_valid check (ends_at > starts_at)
);

-- The pub's indexes, on the stand-ins only.
select table_booking_service.for_stand_in('tables', $ix$create unique index if not exists idx_tables_table_number on public.tables (lower(table_number::text))$ix$);
select table_booking_service.for_stand_in('table_join_links', $ix$create index if not exists idx_table_join_links_join_table_id on public.table_join_links (join_table_id)$ix$);
select table_booking_service.for_stand_in('table_holds', $ix$create index if not exists idx_table_holds_lookup on public.table_holds (table_id, starts_on, ends_on) where status = 'active'$ix$);
select table_booking_service.for_stand_in('booking_table_assignments', $ix$create index if not exists idx_booking_table_assignments_booking on public.booking_table_assignments (table_booking_id)$ix$);
select table_booking_service.for_stand_in('booking_table_assignments', $ix$create index if not exists idx_booking_table_assignments_table_window on public.booking_table_assignments (table_id, start_datetime, end_datetime)$ix$);
select table_booking_service.for_stand_in('outside_reservations', $ix$create index if not exists idx_outside_reservations_window on public.outside_reservations (starts_at, ends_at)$ix$);

-- The stand-in's guard, equal in effect to the pub's trigger
-- trg_enforce_booking_table_assignment_integrity_v05 (1.6) on a database without private hire or
-- events: a known table, its row locked, and no overlapping assignment of another live booking.
-- A trigger, not an exclusion constraint: liveness is the booking's (status, hold expiry), not
-- the assignment's. It judges liveness at the database clock, as the pub's trigger does.
create or replace function public.tb_guard_table_assignment() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  perform 1 from public.tables t where t.id = new.table_id for update;
  if not found then
    raise exception 'table_not_found' using errcode = '23503';
  end if;
  if exists (
    select 1
    from public.booking_table_assignments a
    join public.table_bookings b on b.id = a.table_booking_id
    where a.table_id = new.table_id
      and a.start_datetime < new.end_datetime
      and a.end_datetime > new.start_datetime
      and a.id <> new.id
      and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at, b.payment_status::text,
                            now())
  ) then
    raise exception 'table_assignment_overlap' using errcode = '23P01',
      detail = 'table already has an overlapping active assignment';
  end if;
  return new;
end
$$;

do $m$
begin
  if exists (select 1 from table_booking_service.stand_ins where relation = 'booking_table_assignments')
     and not exists (select 1 from pg_catalog.pg_trigger
                     where tgrelid = 'public.booking_table_assignments'::regclass
                       and tgname = 'tb_guard_table_assignment' and not tgisinternal) then
    create trigger tb_guard_table_assignment before insert or update
      on public.booking_table_assignments
      for each row execute function public.tb_guard_table_assignment();
  end if;
end
$m$;

do $m$
declare
  v_table text;
begin
  foreach v_table in array array[
    'tables', 'table_join_links', 'table_holds', 'booking_table_assignments', 'outside_reservations'
  ] loop
    continue when v_table not in (select relation from table_booking_service.stand_ins);
    execute format('alter table public.%I enable row level security', v_table);
    execute format('grant select, insert, update, delete on table public.%I to service_role', v_table);
  end loop;
end
$m$;

-- ===========================================================================
-- Durations (2.1 - 2.3)
-- ===========================================================================
-- How long the guest is told (guest_minutes) and how much longer the table is held after it
-- (turnaround_minutes). Turn times off (the seeded value): 120 food (Sunday lunch and Christmas
-- are food), 90 drinks, no turnaround. On: by party size (the same for food and drinks), plus the
-- Sunday uplift on a Sunday's date, floored at 30, and turnaround_gap_minutes (not below 0).
create or replace function public.tb_booking_minutes(
  p_purpose text, p_party integer, p_date date,
  out guest_minutes integer, out turnaround_minutes integer
)
language sql stable security definer set search_path = public, pg_temp as $$
  select greatest(30,
           case when o.on_ then
                  case when p_party <= 2 then public.get_setting_int('turn_time_minutes_1_2', 90)
                       when p_party <= 4 then public.get_setting_int('turn_time_minutes_3_4', 105)
                       when p_party <= 6 then public.get_setting_int('turn_time_minutes_5_6', 120)
                       else public.get_setting_int('turn_time_minutes_7_plus', 150) end
                  + case when extract(dow from p_date) = 0
                         then public.get_setting_int('turn_time_sunday_uplift_minutes', 15)
                         else 0 end
                when lower(trim(coalesce(p_purpose, 'food'))) = 'drinks' then 90
                else 120 end),
         case when o.on_ then greatest(0, public.get_setting_int('turnaround_gap_minutes', 15))
              else 0 end
  from (select public.get_setting_bool('turn_times_enabled', false) as on_) o
$$;

-- The venue seats by tables when it has at least one bookable table; otherwise the covers rule
-- (20261124000400) is the whole of capacity.
create or replace function public.tb_venue_has_tables() returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select exists (select 1 from public.tables t where t.is_bookable)
$$;

-- ===========================================================================
-- What takes a table away for a window, besides another booking
-- ===========================================================================
-- Private hire (10.4): a table is taken while its area is linked (venue_space_table_areas) to a
-- space booked as a 'space' item of a draft or confirmed private booking whose window (setup,
-- else start; to end time, else start + 4 h; an end at or before the start is the next day),
-- widened by 30 minutes each side, overlaps. The widened windows overlapping [p_from, p_to), one
-- row a table and window. None where the pub's private-hire tables do not exist (a fresh
-- database).
create or replace function public.tb_private_blocks(p_from timestamptz, p_to timestamptz)
returns table (table_id uuid, starts timestamptz, ends timestamptz)
language plpgsql stable security definer set search_path = public, pg_temp as $$
begin
  if to_regclass('public.private_bookings') is null
     or to_regclass('public.private_booking_items') is null
     or to_regclass('public.venue_space_table_areas') is null
     or p_to <= p_from then
    return;
  end if;
  return query
  select t.id, w.s - interval '30 minutes',
         case when w.e <= w.s then w.e + interval '1 day' else w.e end + interval '30 minutes'
  from public.private_bookings pb
  join public.private_booking_items i
    on i.booking_id = pb.id and i.item_type = 'space' and i.space_id is not null
  join public.venue_space_table_areas va on va.venue_space_id = i.space_id
  join public.tables t on t.area_id = va.table_area_id
  cross join lateral (
    select (coalesce(pb.setup_date, pb.event_date) + coalesce(pb.setup_time, pb.start_time))
             at time zone 'Europe/London' as s,
           case when pb.end_time is not null
                then (pb.event_date + pb.end_time) at time zone 'Europe/London'
                else (pb.event_date + pb.start_time) at time zone 'Europe/London'
                     + interval '4 hours' end as e
  ) w
  where pb.status in ('draft', 'confirmed')
    and w.s - interval '30 minutes' < p_to
    and case when w.e <= w.s then w.e + interval '1 day' else w.e end + interval '30 minutes'
        > p_from;
end
$$;

-- Communal event seats (the pub's hard failure table_communal, 1.3): the seats of an active
-- event booking (confirmed, or pending payment with an unexpired or no hold) overlapping
-- [p_from, p_to). None where the pub's event tables do not exist (a fresh database).
create or replace function public.tb_communal_blocks(p_from timestamptz, p_to timestamptz,
                                                     p_now timestamptz)
returns table (table_id uuid, starts timestamptz, ends timestamptz)
language plpgsql stable security definer set search_path = public, pg_temp as $$
begin
  if to_regclass('public.event_communal_seat_allocations') is null
     or to_regclass('public.bookings') is null then
    return;
  end if;
  return query
  select e.table_id, e.start_datetime, e.end_datetime
  from public.event_communal_seat_allocations e
  join public.bookings b on b.id = e.event_booking_id
  where e.start_datetime < p_to and e.end_datetime > p_from
    and (b.status = 'confirmed'
         or (b.status = 'pending_payment' and (b.hold_expires_at is null or b.hold_expires_at > p_now)));
end
$$;

-- Occurrences of active table holds overlapping [p_from, p_to) (4.2): for each London date from
-- the day before p_from to p_to's, a hold within starts_on..ends_on whose day_of_week (if any) is
-- that date's runs from date + starts_at to (the same date, or the next when ends_at <=
-- starts_at) + ends_at. Which of them bite is the caller's (maintenance always; walk-in holds
-- online only, before release).
create or replace function public.tb_hold_occurrences(p_from timestamptz, p_to timestamptz)
returns table (table_id uuid, hold_type text, starts timestamptz, ends timestamptz)
language sql stable security definer set search_path = public, pg_temp as $$
  select h.table_id, h.hold_type, o.s, o.e
  from public.table_holds h
  cross join lateral generate_series((p_from at time zone 'Europe/London')::date - 1,
                                     (p_to at time zone 'Europe/London')::date,
                                     interval '1 day') g(day)
  cross join lateral (
    select (g.day::date + h.starts_at) at time zone 'Europe/London' as s,
           ((case when h.ends_at > h.starts_at then g.day::date else g.day::date + 1 end)
            + h.ends_at) at time zone 'Europe/London' as e
  ) o
  where h.status = 'active' and h.scope = 'table'
    and h.starts_on <= g.day::date and (h.ends_on is null or h.ends_on >= g.day::date)
    and (h.day_of_week is null or h.day_of_week = extract(dow from g.day::date))
    and o.s < p_to and o.e > p_from
$$;

-- ===========================================================================
-- The chooser (1.3, 1.4, 4.2, 10.2 - 10.4, 10.6)
-- ===========================================================================
-- The tables that seat a party for the table window [p_start, p_end) (guest end + turnaround).
-- Exactly one row: the chosen set, or table_ids null and reason 'no_table'.
--
-- 1. Usable tables: bookable; accessible (step-free and standard height) when asked, unless
--    ignore_accessibility; high-chair capable when chairs are asked; no overlapping assignment of
--    another live booking (p_exclude_booking never blocks itself); no communal event seats; not
--    in a privately hired area; no active maintenance hold.
-- 2. A single table is valid when usable, capacity >= party, and, on the online channel before
--    release (p_now < p_start - hold_release_lead_hours), not walk-in held (unless ignore_hold)
--    and not below its min_party_size (unless ignore_minimum). The best valid single wins:
--    smallest capacity, then priority (bar_priority for drinks), then numeric table_number.
-- 3. Only when no single is valid: two or more usable tables (walk-in held and below-minimum
--    tables included), connected by table_join_links (any set with allow_unjoined), seating the
--    party: fewest tables, then smallest total capacity, then the best worst member priority, then
--    the sorted uuid array.
--
-- Bound: combinations are grown one size at a time, each set of size k + 1 a set of size k plus a
-- table linked to it (every connected set is reached so, by removing a leaf of a spanning tree),
-- and the search stops at the first size with a set that seats the party, since fewest tables
-- comes first in the order. Sets are bitmasks over the usable tables (at most 62), so the work is
-- at most the number of connected sets of usable tables up to that size (the live floor: 5
-- Dining Room tables in a complete graph and one linked pair, at most 40 sets), and none at all
-- when a single fits or the usable tables together cannot seat the party. allow_unjoined makes
-- every set connected: at most 2^n sets (staff only, no app route sends it).
create or replace function public.tb_choose_tables(
  p_start timestamptz,
  p_end timestamptz,
  p_party integer,
  p_purpose text,
  p_channel text,
  p_high_chairs integer,
  p_accessible boolean,
  p_overrides jsonb,
  p_now timestamptz,
  p_exclude_booking uuid default null
) returns table (table_ids uuid[], table_names text, tables_joined boolean, reason text)
language plpgsql stable security definer
set search_path = public, pg_temp
-- One plan for every call, as tb_day_tables: PostgreSQL judged the generic plan dearer than a
-- custom one and planned the first statement anew on every call, which cost as much as running
-- it (the chooser 0.6 ms a call, 0.3 ms with this; bench/README.md step 22).
set plan_cache_mode = force_generic_plan as $$
declare
  v_drinks boolean := lower(trim(coalesce(p_purpose, 'food'))) = 'drinks';
  v_ignore_min boolean := coalesce((p_overrides ->> 'ignore_minimum')::boolean, false);
  v_ignore_hold boolean := coalesce((p_overrides ->> 'ignore_hold')::boolean, false);
  v_unjoined boolean := coalesce((p_overrides ->> 'allow_unjoined')::boolean, false);
  v_ignore_access boolean := coalesce((p_overrides ->> 'ignore_accessibility')::boolean, false);
  -- Walk-in holds and minimums: the online channel only, until the sitting is near.
  v_online_rules boolean;
  v_ids uuid[];      -- the usable tables, by uuid; a set is a bitmask over these positions
  v_cap integer[];
  v_prio integer[];
  v_adj bigint[];    -- v_adj[i]: the usable tables linked to table i
  v_single uuid;
  v_level bigint[];
  v_best bigint;
  v_n integer;
begin
  if p_party is null or p_party < 1 or p_start is null or p_end is null or p_end <= p_start then
    return query select null::uuid[], null::text, null::boolean, 'no_table'::text;
    return;
  end if;
  if p_now is null then
    raise exception 'tb_choose_tables: p_now is required' using errcode = '22004';
  end if;
  -- A missing channel is online, the strictest (as the pub's core defaults it).
  v_online_rules := coalesce(p_channel, 'online') = 'online'
    and p_now < p_start - make_interval(hours => greatest(0,
                                          public.get_setting_int('hold_release_lead_hours', 24)));

  -- Materialized: asked once per call, not once per table.
  with blocked as materialized (
    select array(select x.table_id from public.tb_private_blocks(p_start, p_end) x
                 union select x.table_id from public.tb_communal_blocks(p_start, p_end, p_now) x)
             as ids
  ),
  holds as materialized (
    select distinct h.table_id, h.hold_type from public.tb_hold_occurrences(p_start, p_end) h
  ),
  usable as materialized (
    select t.id, t.capacity, t.min_party_size,
           case when v_drinks then t.bar_priority else t.priority end as prio,
           coalesce(nullif(regexp_replace(t.table_number, '\D', '', 'g'), '')::integer, 9999)
             as number_sort,
           exists (select 1 from holds h where h.table_id = t.id and h.hold_type = 'walk_in_hold')
             as walk_in_held
    from public.tables t, blocked
    where t.is_bookable
      and not (coalesce(p_accessible, false) and not v_ignore_access
               and not (t.step_free and t.standard_height))
      and not (coalesce(p_high_chairs, 0) > 0 and not t.high_chair_capable)
      and not exists (
        select 1
        from public.booking_table_assignments a
        join public.table_bookings b on b.id = a.table_booking_id
        where a.table_id = t.id
          -- Bounded below (no table is held for more than a day): the index never steps over
          -- the table's past.
          and a.start_datetime > p_start - interval '2 days'
          and a.start_datetime < p_end and a.end_datetime > p_start
          and b.id is distinct from p_exclude_booking
          -- A confirmed booking that has not left is live (tb_is_live says so too); the
          -- function is asked only about the others.
          and ((b.status = 'confirmed' and b.left_at is null)
               or public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                                    b.payment_status::text, p_now)))
      and t.id <> all (blocked.ids)
      and not exists (select 1 from holds h where h.table_id = t.id and h.hold_type = 'maintenance')
  ),
  single as (
    select u.id from usable u
    where u.capacity >= p_party
      and not (v_online_rules and not v_ignore_hold and u.walk_in_held)
      and not (v_online_rules and not v_ignore_min and p_party < u.min_party_size)
    order by u.capacity, u.prio, u.number_sort, u.id
    limit 1
  )
  select (select s.id from single s),
         array_agg(u.id order by u.id), array_agg(u.capacity order by u.id),
         array_agg(u.prio order by u.id)
  into v_single, v_ids, v_cap, v_prio
  from usable u;

  if v_single is not null then
    return query
    select array[v_single], coalesce(t.name, t.table_number::text), false, null::text
    from public.tables t where t.id = v_single;
    return;
  end if;

  v_n := coalesce(cardinality(v_ids), 0);
  if v_n < 2 or (select sum(c) from unnest(v_cap) c) < p_party then
    return query select null::uuid[], null::text, null::boolean, 'no_table'::text;
    return;
  end if;
  if v_n > 62 then
    raise exception 'tb_choose_tables: % usable tables, more than the 62 a set can hold', v_n;
  end if;

  -- The links among the usable tables (positions in v_ids), read only when a join is needed.
  v_adj := array(
    select (select coalesce(sum(1::bigint << (p.pos::integer - 1)), 0)::bigint
            from unnest(v_ids) with ordinality p(id, pos)
            where v_unjoined and p.id <> o.id
               or exists (select 1 from public.table_join_links l
                          where (l.table_id = o.id and l.join_table_id = p.id)
                             or (l.table_id = p.id and l.join_table_id = o.id)))
    from unnest(v_ids) with ordinality o(id, pos)
    order by o.pos);

  v_level := array(select 1::bigint << (i - 1) from generate_series(1, v_n) i);
  for v_size in 2 .. v_n loop
    -- Every set one table larger: a set of this level plus a table linked to one of its members.
    v_level := array(
      select distinct m | (1::bigint << (i - 1))
      from unnest(v_level) m, generate_series(1, v_n) i
      where m & (1::bigint << (i - 1)) = 0
        and exists (select 1 from generate_series(1, v_n) j
                    where m & (1::bigint << (j - 1)) <> 0
                      and v_adj[j] & (1::bigint << (i - 1)) <> 0));
    exit when cardinality(v_level) = 0;
    select m into v_best
    from unnest(v_level) m
    cross join lateral (
      select sum(v_cap[i]) as cap, max(v_prio[i]) as worst, array_agg(v_ids[i] order by v_ids[i]) as ids
      from generate_series(1, v_n) i where m & (1::bigint << (i - 1)) <> 0
    ) s
    where s.cap >= p_party
    order by s.cap, s.worst, s.ids
    limit 1;
    if v_best is not null then
      return query
      select array_agg(v_ids[i] order by v_ids[i]),
             public.tb_tables_label(array_agg(v_ids[i])), true, null::text
      from generate_series(1, v_n) i where v_best & (1::bigint << (i - 1)) <> 0;
      return;
    end if;
  end loop;
  return query select null::uuid[], null::text, null::boolean, 'no_table'::text;
end
$$;

-- How a set of tables is named to people (1.4): each table's name, else its number, ordered by
-- the digits of table_number (non-numeric last), joined with " + ".
create or replace function public.tb_tables_label(p_ids uuid[]) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select string_agg(coalesce(t.name, t.table_number::text), ' + '
                    order by coalesce(nullif(regexp_replace(t.table_number, '\D', '', 'g'),
                                             '')::integer, 9999),
                             coalesce(t.name, t.table_number::text))
  from public.tables t where t.id = any (p_ids)
$$;

-- Whether tb_choose_tables would seat the party, for many starts at once: what availability
-- asks for every slot of a day, in one pass over the day's assignments, holds and blocks instead
-- of one chooser call a slot (tests/test_floor.py holds the two to the same answers). Each start
-- st has the table window [st, st + p_table_minutes). seated: a valid single table, or (the
-- chooser's joins) a set of usable tables connected by table_join_links with seats enough,
-- which exists exactly when some connected group of the slot's usable tables has them (the group
-- itself is such a set). free_seats: the seats of the tables with nothing on them for the whole
-- window (no booking, hold, hire or event seats), whatever the party's needs.
create or replace function public.tb_day_tables(
  p_starts timestamptz[],
  p_table_minutes integer,
  p_party integer,
  p_purpose text,
  p_channel text,
  p_high_chairs integer,
  p_accessible boolean,
  p_now timestamptz
) returns table (slot_start timestamptz, seated boolean, free_seats integer)
language plpgsql stable security definer
set search_path = public, pg_temp
-- One plan for every call (the query's shape never depends on its arguments): planning it
-- anew each time cost more than running it.
set plan_cache_mode = force_generic_plan as $$
declare
  v_lead interval := make_interval(hours => greatest(0,
                       public.get_setting_int('hold_release_lead_hours', 24)));
  v_online boolean := coalesce(p_channel, 'online') = 'online';
  v_from timestamptz;
  v_to timestamptz;
begin
  select min(x), max(x) + make_interval(mins => p_table_minutes) into v_from, v_to
  from unnest(p_starts) x;
  if v_from is null then
    return;
  end if;
  return query
  with recursive
  slot as (
    select x as st, x + make_interval(mins => p_table_minutes) as te from unnest(p_starts) x
  ),
  tbl as materialized (
    select t.id, t.capacity, t.min_party_size,
           coalesce(p_accessible, false) and not (t.step_free and t.standard_height)
             or coalesce(p_high_chairs, 0) > 0 and not t.high_chair_capable as unfit
    from public.tables t where t.is_bookable
  ),
  holds as materialized (select * from public.tb_hold_occurrences(v_from, v_to)),
  busy as materialized (
    -- Table by table on the pub's (table_id, start_datetime, end_datetime) index, the range
    -- bounded below (no table is held for more than a day), so the past is never read.
    select a.table_id, a.start_datetime as bs, a.end_datetime as be
    from tbl
    join public.booking_table_assignments a
      on a.table_id = tbl.id
     and a.start_datetime > v_from - interval '2 days' and a.start_datetime < v_to
     and a.end_datetime > v_from
    cross join lateral (
      select b.status, b.left_at, b.hold_expires_at, b.payment_status
      from public.table_bookings b where b.id = a.table_booking_id offset 0
    ) b
    where (b.status = 'confirmed' and b.left_at is null)
           or public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                                b.payment_status::text, p_now)
    union all
    select h.table_id, h.starts, h.ends from holds h where h.hold_type = 'maintenance'
    union all
    select x.table_id, x.starts, x.ends from public.tb_private_blocks(v_from, v_to) x
    union all
    select x.table_id, x.starts, x.ends from public.tb_communal_blocks(v_from, v_to, p_now) x
  ),
  walk_in as materialized (
    select h.table_id, h.starts, h.ends from holds h where h.hold_type = 'walk_in_hold'
  ),
  free as materialized (
    select slot.st, slot.te, tbl.*
    from slot cross join tbl
    where not exists (select 1 from busy where busy.table_id = tbl.id
                                           and busy.bs < slot.te and busy.be > slot.st)
  ),
  single as (
    select distinct f.st from free f
    where not f.unfit and f.capacity >= p_party
      and not (v_online and p_now < f.st - v_lead
               and (p_party < f.min_party_size
                    or exists (select 1 from walk_in w where w.table_id = f.id
                                                         and w.starts < f.te and w.ends > f.st)))
  ),
  -- Only where no single fits and the usable tables together have the seats.
  joinable as materialized (
    select f.st, f.id, f.capacity from free f
    where not f.unfit
      and f.st not in (select st from single)
      and f.st in (select g.st from free g where not g.unfit group by g.st
                   having sum(g.capacity) >= p_party)
  ),
  reach (st, root, node) as (
    select j.st, j.id, j.id from joinable j
    union
    select r.st, r.root, n.id
    from reach r
    join public.table_join_links l on l.table_id = r.node or l.join_table_id = r.node
    join joinable n on n.st = r.st
                   and n.id = case when l.table_id = r.node then l.join_table_id
                                   else l.table_id end
  ),
  joined as (
    select distinct r.st from reach r join joinable j on j.st = r.st and j.id = r.node
    group by r.st, r.root
    having count(*) >= 2 and sum(j.capacity) >= p_party
  ),
  -- Each slot's answer joined once (not a scan of free per slot).
  seats as (select f.st, sum(f.capacity)::integer as seats from free f group by f.st)
  select slot.st, si.st is not null or jo.st is not null, coalesce(seats.seats, 0)
  from slot
  left join single si on si.st = slot.st
  left join joined jo on jo.st = slot.st
  left join seats on seats.st = slot.st;
end
$$;

-- ===========================================================================
-- Outside seating and high chairs (10.1, 10.2)
-- ===========================================================================
-- 'outside_full' when the outside pool (outside_table_count tables of outside_table_capacity
-- seats) cannot take the party for the window [p_start, p_end) (guest end + turnaround): the
-- tables_reserved of overlapping live outside bookings plus ceil(party / capacity), at least 1,
-- exceed the count. Null when it fits.
create or replace function public.tb_outside_refusal(
  p_start timestamptz, p_end timestamptz, p_party integer, p_now timestamptz,
  p_exclude_booking uuid default null
) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select case when coalesce(sum(r.tables_reserved), 0)
                   + greatest(1, ceil(greatest(p_party, 1)::numeric / s.cap)::integer) > s.count
              then 'outside_full' end
  from (select public.get_setting_int('outside_table_count', 5) as count,
               greatest(1, public.get_setting_int('outside_table_capacity', 8)) as cap) s
  left join (public.outside_reservations r
             join public.table_bookings b on b.id = r.table_booking_id)
    on r.starts_at < p_end and r.ends_at > p_start
   and b.id is distinct from p_exclude_booking
   and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at, b.payment_status::text,
                         p_now)
  group by s.count, s.cap
$$;

-- High chairs free for the table window [p_start, p_end): high_chair_inventory less the chairs of
-- live bookings (inside or outside: one pool) whose guest window overlaps it, never below 0.
-- A booking is granted least(requested, this); chairs never refuse a booking.
create or replace function public.tb_high_chairs_free(
  p_start timestamptz, p_end timestamptz, p_now timestamptz, p_exclude_booking uuid default null
) returns integer
language sql stable security definer set search_path = public, pg_temp as $$
  select greatest(0, public.get_setting_int('high_chair_inventory', 2)
                     - coalesce((select sum(b.high_chair_count)
                                 from public.table_bookings b
                                 where b.high_chair_count > 0
                                   and b.start_datetime < p_end and b.end_datetime > p_start
                                   and b.id is distinct from p_exclude_booking
                                   and public.tb_is_live(b.status::text, b.left_at,
                                                         b.hold_expires_at,
                                                         b.payment_status::text, p_now)), 0))::integer
$$;

-- ===========================================================================
-- Locks (10.10): the pub's own keys, so our creates and the pub's serialise together.
-- ===========================================================================
create or replace function public.tb_lock_floor() returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('table_alloc'))
$$;

create or replace function public.tb_lock_high_chairs() returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('high_chair_reservation'))
$$;

-- ===========================================================================
-- Recording a seated booking (1.6, 10.1)
-- ===========================================================================
-- Replaces what the booking holds: inside, one booking_table_assignments row per table, all with
-- the table window [p_start, p_end), and no outside row; outside, no assignments and one
-- outside_reservations row of ceil(party / capacity) tables (at least 1). A new outside row is
-- costed at today's outside_table_capacity; an existing one keeps the capacity it was promised
-- (capacity_basis), as the pub's sync_outside_reservation re-costs a changed booking (10.1).
-- On the pub's database its assignment trigger guards the inserts; its errors
-- (table_assignment_overlap, table_assignment_private_blocked: 23P01) propagate to the caller.
create or replace function public.tb_seat_booking(
  p_booking_id uuid, p_table_ids uuid[], p_start timestamptz, p_end timestamptz,
  p_outside boolean, p_party integer
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_basis integer;
begin
  delete from public.booking_table_assignments where table_booking_id = p_booking_id;
  if not coalesce(p_outside, false) then
    delete from public.outside_reservations where table_booking_id = p_booking_id;
    insert into public.booking_table_assignments
      (table_booking_id, table_id, start_datetime, end_datetime)
    select p_booking_id, u.t, p_start, p_end
    from unnest(p_table_ids) with ordinality u(t, n)
    order by u.n;
    return;
  end if;
  select r.capacity_basis into v_basis
  from public.outside_reservations r where r.table_booking_id = p_booking_id;
  v_basis := greatest(1, coalesce(v_basis, public.get_setting_int('outside_table_capacity', 8)));
  insert into public.outside_reservations
    (table_booking_id, tables_reserved, capacity_basis, starts_at, ends_at)
  values (p_booking_id, greatest(1, ceil(greatest(p_party, 1)::numeric / v_basis)::integer),
          v_basis, p_start, p_end)
  on conflict (table_booking_id) do update
    set tables_reserved = excluded.tables_reserved,
        capacity_basis = excluded.capacity_basis,
        starts_at = excluded.starts_at,
        ends_at = excluded.ends_at,
        updated_at = now();
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_guard_table_assignment',
  'public.tb_booking_minutes',
  'public.tb_venue_has_tables',
  'public.tb_private_blocks',
  'public.tb_communal_blocks',
  'public.tb_hold_occurrences',
  'public.tb_day_tables',
  'public.tb_tables_label',
  'public.tb_choose_tables',
  'public.tb_outside_refusal',
  'public.tb_high_chairs_free',
  'public.tb_lock_floor',
  'public.tb_lock_high_chairs',
  'public.tb_seat_booking'
]);
