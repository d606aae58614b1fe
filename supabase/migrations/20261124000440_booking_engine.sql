-- The one gate of a booking where the venue seats by tables (tb_venue_has_tables): the pub's
-- 2026 engine (pub-engine-2026.md), composed from the rules of their own files: the floor
-- (20261124000410_floor.sql: tables, joins, holds, durations, outside, high chairs), the
-- kitchen's pacing (20261124000420_pacing.sql) and deposits (20261124000430_deposits.sql).
-- Create, change and availability all ask these functions, for guests, API keys and staff
-- alike, so that no two paths can disagree. A venue with no bookable table keeps the covers
-- rule of 20261124000400_booking_rules.sql.
--
-- The order is the pub's (its section 0, "the first failure wins"), after this service's own
-- day and time rules (tb_check_slot: the booking window, minimum notice, the slot grid, the
-- Sunday lunch cut-off): the period's own checks, the tables (or the outside pool), the kitchen
-- pacing and the drinks ceiling, then the deposit's limits.

set local check_function_bodies = off;

-- Who a request books for, as the pub's engine names it: 'online' for guests and API keys (the
-- website), 'staff' for staff, 'walk-in' for a staff booking whose source is walk-in.
create or replace function public.tb_channel(p_actor jsonb, p_source text) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case when p_actor ->> 'kind' = 'staff'
              then case when p_source = 'walk-in' then 'walk-in' else 'staff' end
              else 'online' end
$$;

-- Where a booking of p_party_size for p_purpose sits at p_start, or why it cannot: tables (or
-- the outside pool), then kitchen pacing and the drinks ceiling. Nothing is written; a writer
-- holds tb_lock_floor() first. reason is the pub's code (no_table, outside_full, slot_full,
-- drinks_full) or NULL.
create or replace function public.tb_seat_verdict(
  p_date date,
  p_time time,
  p_start timestamptz,
  p_party integer,
  p_purpose text,
  p_channel text,
  p_outside boolean,
  p_accessible boolean,
  p_high_chairs integer,
  p_overrides jsonb,
  p_bypass_pacing boolean,
  p_now timestamptz,
  p_exclude uuid,
  out reason text,
  out table_ids uuid[],
  out table_names text,
  out tables_joined boolean,
  out guest_minutes integer,
  out turnaround_minutes integer
)
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_table_end timestamptz;
  c record;
begin
  select m.guest_minutes, m.turnaround_minutes into guest_minutes, turnaround_minutes
  from public.tb_booking_minutes(p_purpose, p_party, p_date) m;
  v_table_end := p_start + make_interval(mins => guest_minutes + turnaround_minutes);
  if p_outside then
    reason := public.tb_outside_refusal(p_start, v_table_end, p_party, p_now, p_exclude);
  else
    select * into c
    from public.tb_choose_tables(p_start, v_table_end, p_party, p_purpose, p_channel,
                                 coalesce(p_high_chairs, 0), coalesce(p_accessible, false),
                                 coalesce(p_overrides, '{}'::jsonb), p_now, p_exclude);
    reason := c.reason;
    table_ids := c.table_ids;
    table_names := c.table_names;
    tables_joined := coalesce(c.tables_joined, false);
  end if;
  if reason is null then
    reason := public.tb_pacing_refusal(p_date, p_time, p_party, p_purpose,
                                       coalesce(p_bypass_pacing, false), p_now, p_exclude);
  end if;
end
$$;

-- The deposit a booking owes: the pub's rule (tb_resolve_deposit: the group deposit or the
-- seasonal period's, the larger, never both), and for Sunday lunch the larger of that and its
-- own deposit per guest (sunday_lunch_deposit_per_guest), never both. Returns the resolver's
-- answer with deposit_amount, deposit_required and deposit_rule adjusted.
create or replace function public.tb_deposit_verdict(
  p_booking_type text,
  p_party integer,
  p_date date,
  p_period_id uuid,
  p_period_answer boolean,
  p_purpose text,
  p_waived boolean,
  p_cfg jsonb
) returns jsonb
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  r jsonb := public.tb_resolve_deposit(p_party, p_date, p_period_id, p_period_answer,
                                       p_purpose, coalesce(p_waived, false));
  v_sunday numeric(10, 2);
begin
  if p_booking_type = 'sunday_lunch' and r ->> 'blocked' is null
     and r ->> 'deposit_rule' is distinct from 'waived' then
    v_sunday := (p_cfg ->> 'deposit_per_guest')::numeric(10, 2) * p_party;
    if v_sunday >= coalesce((r ->> 'deposit_amount')::numeric, 0) then
      r := r || jsonb_build_object(
        'deposit_required', true, 'deposit_amount', v_sunday, 'deposit_rule', 'sunday_lunch',
        'deposit_basis', 'per_head', 'deposit_rate', (p_cfg ->> 'deposit_per_guest')::numeric);
    end if;
  end if;
  return r;
end
$$;

-- Refuse with the words a guest reads: a seat verdict's reason as NO_AVAILABILITY (409), with
-- the pub's code and its public reason in details.
create or replace function public.tb_refuse_seat(p_reason text, p_date date, p_time time)
returns void
language plpgsql stable security definer set search_path = public, pg_temp as $$
begin
  raise exception using errcode = 'P0001', message = 'NO_AVAILABILITY',
    detail = public.tb_public_message(public.tb_public_reason(p_reason)),
    hint = jsonb_build_object('reason', p_reason,
                              'public_reason', public.tb_public_reason(p_reason),
                              'date', to_char(p_date, 'YYYY-MM-DD'),
                              'time', to_char(p_time, 'HH24:MI'))::text;
end
$$;

-- Refuse what the deposit rule or the period refuses (POLICY_VIOLATION, 422), in words.
create or replace function public.tb_refuse_deposit(p_verdict jsonb, p_date date) returns void
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  v_reason text := p_verdict ->> 'blocked';
  per public.booking_periods := public.tb_period_for_date(p_date);
  v_phone text := public.tb_config() ->> 'contact_phone';
begin
  raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
    detail = case v_reason
      when 'period_date_mismatch' then
        'The seasonal booking you chose is not the one for that date. Please choose again.'
      when 'period_not_available' then
        'There is no seasonal menu on that date, so it cannot be booked as one.'
      when 'period_party_too_small' then format(
        '%s bookings are for %s guests or more.', per.name, per.min_party_size)
      when 'period_party_too_large' then format(
        '%s bookings are for up to %s guests; for a larger party please call us on %s.',
        per.name, per.max_party_size, v_phone)
      when 'period_menu_not_ready' then format(
        'The %s menu is not ready yet, so it cannot be booked online. Please call us on %s.',
        per.name, v_phone)
      when 'christmas_party_too_small' then 'Christmas bookings are for 6 guests or more.'
      when 'christmas_party_too_large' then format(
        'For a Christmas party of more than 20 we look after you as a private booking: email '
        'manager@the-anchor.pub or call %s.', v_phone)
      when 'christmas_not_open' then format(
        'Christmas bookings are not open for %s.', public.tb_day_words(p_date))
      else format('That booking cannot be taken online. Please call us on %s.', v_phone) end,
    hint = jsonb_build_object('reason', v_reason)::text;
end
$$;

select table_booking_service.service_role_only(array[
  'public.tb_channel',
  'public.tb_seat_verdict',
  'public.tb_deposit_verdict',
  'public.tb_refuse_seat',
  'public.tb_refuse_deposit'
]);
