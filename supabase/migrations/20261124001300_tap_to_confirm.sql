-- Tap-to-confirm (issue 16, item 3; pub-api-2026.md section 11): the day before, each confirmed
-- booking is texted once with a link (/g/{token}/confirm-booking, a booking_confirm guest link)
-- where the guest answers "yes, we're coming" (table_bookings.guest_confirmed_at) or "no"
-- (cancelled by our cancel, reason guest_declined_confirmation). Staff ring the guests who did
-- not answer and those who could not be texted.
--
-- The facts are kept where the pub keeps them: a booking that was texted has its one row in the
-- pub's table_booking_confirm_reminders (unique per booking: the sweep's mark, written in the
-- same transaction that queues the text, so overlapping runs text once; sent_at is moved to the
-- moment the text went); the answer is the pub's table_bookings.guest_confirmed_at. On a fresh
-- database the table (and the pub's view over it) are stand-ins with the pub's columns.

insert into table_booking_service.stand_ins (relation)
select 'table_booking_confirm_reminders'
where to_regclass('public.table_booking_confirm_reminders') is null
on conflict do nothing;

create table if not exists public.table_booking_confirm_reminders (
  id               uuid not null default gen_random_uuid(),
  table_booking_id uuid not null,
  sent_at          timestamptz not null default now(),
  constraint table_booking_confirm_reminders_pkey primary key (id),
  constraint table_booking_confirm_reminders_once unique (table_booking_id),
  constraint table_booking_confirm_reminders_table_booking_id_fkey
    foreign key (table_booking_id) references public.table_bookings (id) on delete cascade
);
select table_booking_service.for_stand_in('table_booking_confirm_reminders',
  $ix$alter table public.table_booking_confirm_reminders enable row level security$ix$);
select table_booking_service.for_stand_in('table_booking_confirm_reminders',
  $ix$grant all on table public.table_booking_confirm_reminders to service_role$ix$);

-- The pub's own call list (a view its app reads), on a fresh database as on the pub's.
do $view$
begin
  if to_regclass('public.table_bookings_awaiting_confirmation') is null then
    insert into table_booking_service.stand_ins (relation)
    values ('table_bookings_awaiting_confirmation') on conflict do nothing;
    execute $v$
      create view public.table_bookings_awaiting_confirmation as
      select tb.id, tb.booking_reference, tb.booking_date, tb.booking_time, tb.party_size,
             tb.customer_id, r.sent_at as reminder_sent_at
      from public.table_bookings tb
      join public.table_booking_confirm_reminders r on r.table_booking_id = tb.id
      where tb.status = 'confirmed' and tb.guest_confirmed_at is null
        and (tb.booking_date + coalesce(tb.booking_time, '00:00:00'::time))
            >= (now() at time zone 'Europe/London')
    $v$;
    execute 'revoke all on public.table_bookings_awaiting_confirmation from anon, authenticated';
    execute 'grant all on public.table_bookings_awaiting_confirmation to service_role';
  end if;
end
$view$;

-- The text, editable by the pub like the others (added where the project has no such key).
insert into public.table_booking_sms_templates (template_key, booking_type, template_text, variables)
values
  ('booking_confirm_request', null,
   'Hi {{customer_name}}, are you still coming to The Anchor on {{date}} at {{time}} for '
   '{{party_size}}? Tap to say yes, or to cancel so we can offer the table to someone else: '
   '{{confirm_link}} Ref: {{reference}}',
   '{customer_name,date,time,party_size,confirm_link,reference}')
on conflict (template_key) do nothing;

set local check_function_bodies = off;

-- Why the guest cannot be texted (no_mobile, opted_out, messaging_<status>), or null: the same
-- checks, in the same order, as the worker's table_booking_sms_begin.
create or replace function public.tb_sms_unreachable(p_customer_id uuid) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select case
    when c.id is null or c.mobile_e164 is null then 'no_mobile'
    when not coalesce(c.sms_opt_in, false) then 'opted_out'
    when coalesce(c.sms_status, 'active') = 'opted_out'
         or coalesce(c.messaging_status, 'active') = 'opted_out' then 'opted_out'
    when coalesce(c.sms_status, 'active') <> 'active'
         or coalesce(c.messaging_status, 'active') <> 'active'
      then 'messaging_' || coalesce(nullif(c.messaging_status, 'active'), c.sms_status)
  end
  from (select 1) one
  left join public.customers c on c.id = p_customer_id
$$;

-- The sweep: from p_hour (London) on the day before, one text per confirmed booking of
-- tomorrow that this service made, whose guest can be texted and has not answered. The pub's
-- once-per-booking row is the mark, inserted in the transaction that queues the text: a booking
-- another run (or the pub's own app) marked is skipped, whichever committed first.
create or replace function public.table_booking_queue_confirm_requests(
  p_now timestamptz, p_hour integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_local timestamp := p_now at time zone 'Europe/London';
  v_tomorrow date := (p_now at time zone 'Europe/London')::date + 1;
  b record;
  v_marked uuid;
  v_count integer := 0;
begin
  if extract(hour from v_local) < p_hour then
    return json_build_object('queued', 0, 'date', to_char(v_tomorrow, 'YYYY-MM-DD'),
                             'waiting', true);
  end if;
  for b in
    select t.id, t.booking_date, t.booking_time
    from public.table_bookings t
    where t.status = 'confirmed' and t.booking_date = v_tomorrow
      and t.start_datetime > p_now
      and t.guest_confirmed_at is null
      and t.manage_token_hash is not null
      and public.tb_sms_unreachable(t.customer_id) is null
      and not exists (select 1 from public.table_booking_confirm_reminders r
                      where r.table_booking_id = t.id)
    for update of t skip locked
  loop
    insert into public.table_booking_confirm_reminders (table_booking_id, sent_at)
    values (b.id, p_now)
    on conflict (table_booking_id) do nothing
    returning id into v_marked;
    if v_marked is not null then
      perform public.tb_queue_notification(
        b.id, 'confirm_request',
        to_char(b.booking_date, 'YYYY-MM-DD') || 'T' || to_char(b.booking_time, 'HH24:MI'));
      v_count := v_count + 1;
    end if;
  end loop;
  return json_build_object('queued', v_count, 'date', to_char(v_tomorrow, 'YYYY-MM-DD'),
                           'waiting', false);
end
$$;

-- At send time: why the confirm text must not go any more (null: it may). A text queued for a
-- booking since cancelled, started, answered or moved (p_stage is the date and time it was
-- written for) is not sent.
create or replace function public.table_booking_confirm_text_due(
  p_booking_id uuid, p_stage text, p_now timestamptz
) returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select case
    when b.id is null then 'booking_gone'
    when b.status <> 'confirmed' then 'booking_' || b.status::text
    when b.start_datetime <= p_now then 'booking_started'
    when b.guest_confirmed_at is not null then 'already_confirmed'
    when p_stage is not null and p_stage <> to_char(b.booking_date, 'YYYY-MM-DD') || 'T'
                                           || to_char(b.booking_time, 'HH24:MI')
      then 'booking_moved'
  end
  from (select 1) one
  left join public.table_bookings b on b.id = p_booking_id
$$;

-- The text went: the pub's row says when.
create or replace function public.table_booking_confirm_text_sent(
  p_booking_id uuid, p_sent_at timestamptz
) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  update public.table_booking_confirm_reminders set sent_at = p_sent_at
  where table_booking_id = p_booking_id
$$;

-- What the confirm page shows of a booking.
create or replace function public.tb_confirm_booking_view(p_booking_id uuid, p_now timestamptz)
returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object(
    'booking_id', b.id, 'reference', b.booking_reference, 'status', b.status,
    'date', to_char(b.booking_date, 'YYYY-MM-DD'), 'time', to_char(b.booking_time, 'HH24:MI'),
    'party_size', b.party_size,
    'table_name', case when b.is_outside_seating then 'Outside'
                       else public.tb_tables_label(array(
                              select a.table_id from public.booking_table_assignments a
                              where a.table_booking_id = b.id)) end,
    'first_name', c.first_name,
    'guest_confirmed_at', public.tb_london_iso(b.guest_confirmed_at),
    'started', b.start_datetime <= p_now,
    'cancelled_by', b.cancelled_by, 'cancellation_reason', b.cancellation_reason,
    'refund_due', (select p.payment_metadata ->> 'refund_due'
                   from public.table_booking_payments p
                   where p.booking_id = b.id and p.payment_metadata ? 'refund_due'
                   order by p.created_at desc limit 1))
  from public.table_bookings b
  left join public.customers c on c.id = b.customer_id
  where b.id = p_booking_id
$$;

-- GET /g/{token}/confirm-booking: {"state": ok | token_used | rate_limited | <the link's
-- refusal>, "booking"}. Counted against the link's limit first, in the same bucket as the other
-- guest pages (tb_guest_page's). The booking is shown only for a link that opens, or one used up
-- (by the guest's "no").
create or replace function public.table_booking_confirm_page(
  p_token_hash text, p_now timestamptz, p_limit integer, p_window_seconds integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_rate record;
  v_open json;
begin
  select * into v_rate from public.tb_rate_hit('guest_link:' || p_token_hash, p_limit,
                                               p_window_seconds, p_now);
  if not v_rate.allowed then
    return json_build_object('state', 'rate_limited');
  end if;
  v_open := public.tb_guest_token_open(p_token_hash, 'booking_confirm', p_now);
  if v_open ->> 'state' not in ('ok', 'token_used') then
    return json_build_object('state', v_open ->> 'state');
  end if;
  return json_build_object(
    'state', v_open ->> 'state',
    'booking', public.tb_confirm_booking_view((v_open ->> 'booking_id')::uuid, p_now));
end
$$;

-- POST answer=yes|no. yes: guest_confirmed_at (once: a second yes changes nothing and says so),
-- audited. no: our cancel (cancelled_by guest, reason guest_declined_confirmation: refund by
-- the booking's terms, counters, messages and the tables freed as any cancel), and the link is
-- used up. Counted against the link's limit like the page. Returns {"state": confirmed |
-- already_confirmed | cancelled | booking_cancelled | booking_started | not_answerable |
-- rate_limited | <the link's refusal>, "refund"?}.
create or replace function public.table_booking_confirm_answer(
  p_token_hash text, p_answer text, p_client jsonb, p_now timestamptz, p_limit integer,
  p_window_seconds integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  g public.guest_tokens;
  v_open json;
  b public.table_bookings;
  v_actor constant jsonb := '{"kind": "guest", "id": null, "email": null, "name": null}';
  v_cancel json;
  v_rate record;
begin
  if p_answer is null or p_answer not in ('yes', 'no') then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'The answer is yes or no.', hint = '[{"field": "answer", "message": "yes or no"}]';
  end if;
  select * into v_rate from public.tb_rate_hit('guest_link:' || p_token_hash, p_limit,
                                               p_window_seconds, p_now);
  if not v_rate.allowed then
    return json_build_object('state', 'rate_limited');
  end if;
  -- The link first, then its booking, each locked: two taps at once answer one after the other.
  select * into g from public.guest_tokens
   where hashed_token = p_token_hash and action_type = 'booking_confirm' for update;
  v_open := public.tb_guest_token_open(p_token_hash, 'booking_confirm', p_now);
  if v_open ->> 'state' <> 'ok' then
    return json_build_object('state', v_open ->> 'state');
  end if;
  select * into b from public.table_bookings where id = g.table_booking_id for update;
  if b.status = 'cancelled' then
    return json_build_object('state', 'booking_cancelled');
  end if;
  if b.status <> 'confirmed' then
    return json_build_object('state', 'not_answerable');
  end if;
  if b.start_datetime <= p_now then
    return json_build_object('state', 'booking_started');
  end if;
  if p_answer = 'yes' then
    if b.guest_confirmed_at is not null then
      return json_build_object('state', 'already_confirmed');
    end if;
    update public.table_bookings set guest_confirmed_at = p_now where id = b.id;
    perform public.tb_audit(
      'table_booking.guest_confirmed', b.id, 'success', v_actor, p_client,
      jsonb_build_object('guest_confirmed_at', null),
      jsonb_build_object('guest_confirmed_at', p_now),
      jsonb_build_object('booking_reference', b.booking_reference, 'via', 'confirm_link'));
    return json_build_object('state', 'confirmed');
  end if;
  v_cancel := public.table_booking_cancel(b.booking_reference, null,
                                          'guest_declined_confirmation', v_actor, p_client,
                                          p_now);
  update public.guest_tokens set consumed_at = p_now where id = g.id;
  return json_build_object('state', 'cancelled', 'refund', v_cancel -> 'refund');
end
$$;

-- The staff call list for p_date: confirmed bookings whose guest was texted and has not answered
-- (unanswered), and those whose guest could not be texted (not_texted, with the reason), so
-- staff ring them. Bookings whose text is still to go (before the sweep's hour, or held for
-- quiet hours) and those answered yes are counted only; one never swept once its day has come
-- (booked on the day, or after the last run the day before) is too_late_to_text.
create or replace function public.table_booking_confirm_call_list(p_date date, p_now timestamptz)
returns json
language sql stable security definer set search_path = public, pg_temp as $$
  with day as (
    select b.id, b.booking_reference, b.booking_time, b.party_size, b.guest_confirmed_at,
           b.manage_token_hash is not null as ours,
           nullif(trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')), '')
             as name,
           coalesce(c.mobile_e164, c.mobile_number) as phone,
           public.tb_sms_unreachable(b.customer_id) as unreachable,
           case when b.is_outside_seating then 'Outside'
                else public.tb_tables_label(array(
                       select a.table_id from public.booking_table_assignments a
                       where a.table_booking_id = b.id)) end as table_name,
           r.sent_at, n.status as notify_status, s.status as sms_status, s.result as sms_result,
           m.status as delivery_status
    from public.table_bookings b
    left join public.customers c on c.id = b.customer_id
    left join public.table_booking_confirm_reminders r on r.table_booking_id = b.id
    left join lateral (
      select j.status from public.table_booking_message_ledger l
      join public.jobs j on j.id = l.job_id
      where l.table_booking_id = b.id
        and starts_with(l.unique_key, 'notify:' || b.id || ':confirm_request:')
      order by l.created_at desc limit 1) n on true
    left join lateral (
      select j.status, j.result from public.table_booking_message_ledger l
      join public.jobs j on j.id = l.job_id
      where l.table_booking_id = b.id
        and starts_with(l.unique_key, b.id || ':booking_confirm_request:sms:')
      order by l.created_at desc limit 1) s on true
    left join public.messages m on m.id = (s.result ->> 'message_id')::uuid
    where b.booking_date = p_date and b.status = 'confirmed'
  ),
  classified as (
    select d.*,
      case
        when d.guest_confirmed_at is not null then 'answered'
        -- Marked by the pub's own app (no text of ours behind the row), or our text went.
        when d.sent_at is not null and d.notify_status is null then 'unanswered'
        when d.sms_result ? 'message_id' then 'unanswered'
        when d.notify_status in ('pending', 'processing')
             or d.sms_status in ('pending', 'processing') then 'waiting'
        -- Still to be swept: only while the day is ahead (the sweep texts tomorrow's).
        when d.sent_at is null and d.ours and d.unreachable is null
             and p_date > (p_now at time zone 'Europe/London')::date then 'waiting'
        else 'not_texted'
      end as state,
      case
        when d.sent_at is null and not d.ours and d.unreachable is null then 'not_ours'
        when d.sent_at is null and d.unreachable is null then 'too_late_to_text'
        when d.sent_at is null then d.unreachable
        when d.sms_status = 'failed' then 'text_failed'
        when d.sms_result ? 'skipped' then d.sms_result ->> 'skipped'
        when d.notify_status is not null and d.sms_status is null then 'cannot_receive_texts'
        else 'text_failed'
      end as reason
    from day d
  )
  select json_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'unanswered', coalesce((
      select json_agg(json_build_object(
               'booking_id', x.id, 'booking_reference', x.booking_reference, 'name', x.name,
               'phone', x.phone, 'time', to_char(x.booking_time, 'HH24:MI'),
               'party_size', x.party_size, 'table_name', x.table_name,
               'texted_at', public.tb_london_iso(x.sent_at),
               'delivery_status', x.delivery_status)
             order by x.booking_time, x.booking_reference)
      from classified x where x.state = 'unanswered'), '[]'::json),
    'not_texted', coalesce((
      select json_agg(json_build_object(
               'booking_id', x.id, 'booking_reference', x.booking_reference, 'name', x.name,
               'phone', x.phone, 'time', to_char(x.booking_time, 'HH24:MI'),
               'party_size', x.party_size, 'table_name', x.table_name, 'reason', x.reason)
             order by x.booking_time, x.booking_reference)
      from classified x where x.state = 'not_texted'), '[]'::json),
    'counts', (select json_build_object(
                 'confirmed', count(*),
                 'answered_yes', count(*) filter (where state = 'answered'),
                 'unanswered', count(*) filter (where state = 'unanswered'),
                 'not_texted', count(*) filter (where state = 'not_texted'),
                 'waiting', count(*) filter (where state = 'waiting'))
               from classified))
$$;

select table_booking_service.service_role_only(array[
  'public.tb_sms_unreachable',
  'public.table_booking_queue_confirm_requests',
  'public.table_booking_confirm_text_due',
  'public.table_booking_confirm_text_sent',
  'public.tb_confirm_booking_view',
  'public.table_booking_confirm_page',
  'public.table_booking_confirm_answer',
  'public.table_booking_confirm_call_list'
]);
