-- Issue 18, items 9-12: one rule for the picker and the gate, refunds that are not promised
-- before they are on their way, one message when a confirmation and an update are both due, and
-- what the guest and the staff are told. Every statement can run again on a database that has it.

-- Item 9 -----------------------------------------------------------------------------------------
-- From 20261124001800_create_path.sql: a time is bookable only when it is one of the day's slots
-- (tb_slot_times, the grid availability offers), so create and change accept exactly what the
-- picker shows. Before, any time within the kitchen's hours passed (19:10 with slots every 30
-- minutes).
create or replace function public.tb_check_slot(
  p_booking_type public.table_booking_type,
  p_date date,
  p_time time,
  p_party_size integer,
  p_now timestamptz,
  p_override boolean,
  p_cfg jsonb default null
) returns timestamptz
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  cfg jsonb := coalesce(p_cfg, public.tb_config());
  d record;
  h public.tb_hours := public.tb_hours_of(p_date);
  t record;
  v_offset integer;
  v_span integer;
  v_start timestamptz;
  v_interval integer := greatest((cfg ->> 'slot_interval_minutes')::int, 1);
  v_margin integer := (cfg ->> 'last_start_margin_minutes')::int;
  v_before integer;
begin
  select * into d from public.tb_day_refusal_for(p_booking_type, p_date, p_party_size, p_now,
                                                 p_override, cfg, h);
  if d.reason is not null then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION', detail = d.message,
      hint = jsonb_build_object('reason', d.reason)::text;
  end if;
  v_offset := extract(epoch from (p_time - h.opens))::int / 60
              + case when h.overnight and p_time < h.opens then 1440 else 0 end;
  v_span := extract(epoch from (h.closes - h.opens))::int / 60
            + case when h.closes <= h.opens then 1440 else 0 end;
  if v_offset < 0 or v_offset > v_span - v_margin then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('The kitchen is not serving at %s. On %s food is served from %s to %s, '
                      'and the last table can be booked for %s.',
                      to_char(p_time, 'HH24:MI'), public.tb_day_words(p_date),
                      to_char(h.opens, 'HH24:MI'), to_char(h.closes, 'HH24:MI'),
                      to_char(h.opens + make_interval(mins => v_span - v_margin), 'HH24:MI')),
      hint = '{"reason": "KITCHEN_CLOSED"}';
  end if;
  if not exists (select 1 from public.tb_slot_times(h.opens, h.closes, v_interval, v_margin) s
                  where s.slot_time = p_time) then
    v_before := (v_offset / v_interval) * v_interval;
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION',
      detail = format('Tables are booked every %s minutes from %s, so %s is not a time we can '
                      'book. %s',
                      v_interval, to_char(h.opens, 'HH24:MI'), to_char(p_time, 'HH24:MI'),
                      case when v_before + v_interval <= v_span - v_margin
                           then format('The nearest times are %s and %s.',
                                       to_char(h.opens + make_interval(mins => v_before),
                                               'HH24:MI'),
                                       to_char(h.opens + make_interval(
                                                 mins => v_before + v_interval), 'HH24:MI'))
                           else format('The nearest time is %s.',
                                       to_char(h.opens + make_interval(mins => v_before),
                                               'HH24:MI')) end),
      hint = jsonb_build_object(
        'reason', 'NOT_A_SLOT',
        'slot_interval_minutes', v_interval,
        'nearest', to_jsonb(array_remove(array[
          to_char(h.opens + make_interval(mins => v_before), 'HH24:MI'),
          case when v_before + v_interval <= v_span - v_margin
               then to_char(h.opens + make_interval(mins => v_before + v_interval), 'HH24:MI')
          end], null)))::text;
  end if;
  v_start := public.tb_start_instant(p_date, p_time, h.opens, h.overnight);
  select * into t from public.tb_time_refusal(p_booking_type, v_start, p_now, p_override);
  if t.reason is not null then
    raise exception using errcode = 'P0001', message = 'POLICY_VIOLATION', detail = t.message,
      hint = jsonb_build_object('reason', t.reason)::text;
  end if;
  return v_start;
end
$$;

-- Item 12: the cancel's answer and its refusal say what is true ------------------------------------
-- From 20261124000600_booking_actions.sql: nothing paid is a refund of 0%, not "percentage": 100
-- with "eligible": false; an override's percentage is the share it refunds; an override on a
-- booking with nothing paid says so instead of "between 0.00 and the 0.00 paid".
create or replace function public.table_booking_cancel(
  p_reference text,
  p_token_hash text,
  p_reason text,
  p_actor jsonb,
  p_client jsonb,
  p_now timestamptz,
  p_refund_override numeric default null
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_paid numeric;
  v_refunded numeric;
  v_refund record;
begin
  b := public.tb_booking_by_reference(p_reference, p_token_hash, true);
  if b.status not in ('confirmed', 'pending_payment') then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = case when b.status = 'cancelled' then 'This booking has already been cancelled.'
                    else format('This booking is %s and can no longer be cancelled.',
                                replace(b.status::text, '_', '-')) end,
      hint = jsonb_build_object('status', b.status)::text;
  end if;
  if p_token_hash is not null and b.start_datetime <= p_now then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'This booking has already started; please speak to us at the pub.',
      hint = jsonb_build_object('status', b.status, 'reason', 'STARTED')::text;
  end if;

  -- The policy's share of the deposit paid, less what was already refunded (say a goodwill
  -- refund made at PayPal), never below nothing.
  select coalesce(sum(amount), 0), coalesce(sum(refund_amount), 0) into v_paid, v_refunded
  from public.table_booking_payments
   where booking_id = b.id and status in ('completed', 'partial_refund');
  select * into v_refund from public.tb_refund_due(b.refund_policy, v_paid, b.start_datetime,
                                                   p_now);
  v_refund.amount := greatest(v_refund.amount - v_refunded, 0);
  if v_paid - v_refunded <= 0 then
    v_refund.percentage := 0;  -- nothing to refund a share of
  end if;
  if p_refund_override is not null then
    -- Staff with the cancel permission may refund another amount than the policy's; audited.
    if p_actor ->> 'kind' <> 'staff' or p_refund_override < 0
       or p_refund_override > v_paid - v_refunded then
      raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
        detail = case when v_paid - v_refunded <= 0
                      then case when v_paid > 0
                                then 'The payment for this booking has already been refunded '
                                     'in full, so there is nothing left to refund.'
                                else 'Nothing has been paid for this booking, so there is '
                                     'nothing to refund.' end
                      else format('The refund must be between 0.00 and the %s paid and not '
                                  'yet refunded.', public.tb_money(v_paid - v_refunded)) end,
        hint = '[{"field": "refund_amount", "message": "out of range"}]';
    end if;
    perform public.tb_audit('payment.refund_override', b.id, 'success', p_actor, p_client,
      jsonb_build_object('refund_due', public.tb_money(v_refund.amount)),
      jsonb_build_object('refund_due', public.tb_money(p_refund_override)),
      jsonb_build_object('booking_reference', b.booking_reference));
    v_refund.amount := p_refund_override;
    v_refund.percentage := round(p_refund_override * 100 / (v_paid - v_refunded))::int;
  end if;
  -- The payment first: the status change below queues the refund from refund_due.
  update public.table_booking_payments set
    status = case when status = 'pending' then 'failed'::public.payment_status else status end,
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || case
      when status in ('completed', 'partial_refund') then jsonb_build_object(
        'refund_due', public.tb_money(v_refund.amount),
        'refund_percentage', v_refund.percentage, 'refund_computed_at', p_now)
      else jsonb_build_object('closed_reason', 'booking_cancelled') end
  where booking_id = b.id and status in ('pending', 'completed', 'partial_refund');
  update public.table_bookings set
    status = 'cancelled',
    cancelled_at = p_now,
    cancellation_reason = nullif(p_reason, ''),
    cancelled_by = coalesce(p_actor ->> 'kind', 'system'),
    hold_expires_at = null
  where id = b.id;

  perform public.tb_audit(
    'table_booking.cancelled', b.id, 'success', p_actor, p_client,
    jsonb_build_object('status', b.status),
    jsonb_build_object('status', 'cancelled', 'reason', nullif(p_reason, '')),
    jsonb_build_object('booking_reference', b.booking_reference, 'booking_type', b.booking_type,
                       'party_size', b.party_size, 'booking_date', b.booking_date,
                       'source', b.source, 'paid_amount', public.tb_money(v_paid),
                       'refund_percentage', v_refund.percentage,
                       'refund_amount', public.tb_money(v_refund.amount)));
  return json_build_object(
    'booking_id', b.id,
    'booking_reference', b.booking_reference,
    'status', 'cancelled',
    'cancelled_at', public.tb_london_iso(p_now),
    'refund', json_build_object(
      'eligible', v_refund.amount > 0,
      'percentage', v_refund.percentage,
      'amount', public.tb_money(v_refund.amount),
      'paid_amount', public.tb_money(v_paid),
      'currency', 'GBP'));
end
$$;

-- Item 10: a refund that cannot be made reaches staff ----------------------------------------------
-- Recorded on the payment (refund_failed_at, refund_error), noted on the booking for staff,
-- audited as a failure (payment.refund_failed), and announced by a 'refund_failed' event: the
-- manager's alert, and the guest's message when they had been told the refund was on its way.
create or replace function public.table_booking_refund_failed(
  p_booking_id uuid, p_error text, p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_due text;
begin
  select * into b from public.table_bookings where id = p_booking_id;
  if not found then
    return json_build_object('outcome', 'unknown');
  end if;
  update public.table_booking_payments set payment_metadata = coalesce(payment_metadata,
    '{}'::jsonb) || jsonb_build_object('refund_failed_at', p_now, 'refund_error', left(p_error, 500))
  where id = (select p.id from public.table_booking_payments p
               where p.booking_id = b.id and p.payment_metadata ? 'refund_due'
               order by p.created_at desc limit 1)
  returning payment_metadata ->> 'refund_due' into v_due;
  update public.table_bookings set internal_notes = concat_ws(E'\n', internal_notes,
    format('%s: the refund of £%s could not be made (%s); refund the guest by hand.',
           to_char(p_now at time zone 'Europe/London', 'YYYY-MM-DD HH24:MI'),
           coalesce(v_due, '?'), left(p_error, 200)))
  where id = b.id;
  perform public.tb_audit('payment.refund_failed', b.id, 'failure',
    '{"kind": "system", "name": "refunds"}'::jsonb, null, null,
    jsonb_build_object('refund_due', v_due),
    jsonb_build_object('booking_reference', b.booking_reference), left(p_error, 500));
  perform public.tb_queue_notification(b.id, 'refund_failed');
  return json_build_object('outcome', 'recorded', 'booking_id', b.id, 'refund_due', v_due);
end
$$;

-- From 20261124000800_payments.sql: a refund due on a payment PayPal cannot refund (no capture
-- id: paid another way, or recorded by hand) is not left unsaid: it goes to staff at once.
create or replace function public.tb_refund_on_cancel() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_due numeric;
begin
  if new.status = 'cancelled' and old.status is distinct from 'cancelled' then
    select (p.payment_metadata ->> 'refund_due')::numeric into v_due
      from public.table_booking_payments p
     where p.booking_id = new.id and p.status in ('completed', 'partial_refund')
     order by p.created_at desc limit 1;
    if v_due > 0 and new.paypal_deposit_capture_id is not null
       and new.payment_status in ('completed', 'partial_refund') then
      perform public.tb_queue_refund(
        new.id, new.paypal_deposit_capture_id, v_due,
        'cancellation', 'Refund for your cancelled table booking at The Anchor.');
    elsif v_due > 0 then
      perform public.table_booking_refund_failed(
        new.id, 'no PayPal capture to refund', coalesce(new.cancelled_at, now()));
    end if;
  end if;
  return new;
end
$$;

-- Item 11: one message when a confirmation and an update are both due -----------------------------
create index if not exists idx_table_booking_message_ledger_booking
  on public.table_booking_message_ledger (table_booking_id);

-- The guest's confirmations of a booking still waiting to be sent (a text held for quiet hours,
-- an email waiting its turn); with p_cancel, they are cancelled (the update that follows sends
-- the confirmation with the current booking instead). Returns the channels: sms, email.
create or replace function public.table_booking_supersede_confirmations(
  p_booking_id uuid, p_cancel boolean
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_channels json;
begin
  if p_cancel then
    with gone as (
      update public.jobs j set status = 'cancelled', completed_at = now(),
        result = '{"skipped": "superseded"}'::jsonb, processing_token = null
      from public.table_booking_message_ledger l
      where l.table_booking_id = p_booking_id and l.job_id = j.id and j.status = 'pending'
        and j.type in ('send_sms', 'send_email')
        and j.payload #>> '{metadata,template_key}' like 'booking\_confirmation\_%'
      returning j.type)
    select coalesce(json_agg(distinct replace(type, 'send_', '')), '[]'::json) into v_channels
    from gone;
  else
    select coalesce(json_agg(distinct replace(j.type, 'send_', '')), '[]'::json) into v_channels
    from public.table_booking_message_ledger l
    join public.jobs j on j.id = l.job_id
    where l.table_booking_id = p_booking_id and j.status = 'pending'
      and j.type in ('send_sms', 'send_email')
      and j.payload #>> '{metadata,template_key}' like 'booking\_confirmation\_%';
  end if;
  return v_channels;
end
$$;

-- Items 10 and 12: what a message needs to tell the truth ------------------------------------------
-- From 20261124000700_messages.sql, with: paid_amount (what was paid, so an unpaid deposit is
-- not called paid), refund_state (sent, pending, failed or not_queued: whether the refund is on
-- its way), refund_promised (the guest's cancellation said the refund was requested), and each
-- item's price (paid sides, for the staff).
create or replace function public.table_booking_message_context(
  p_booking_id uuid
) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object(
    'booking', json_build_object(
      'id', b.id, 'reference', b.booking_reference, 'status', b.status,
      'booking_type', b.booking_type, 'date', to_char(b.booking_date, 'YYYY-MM-DD'),
      'time', to_char(b.booking_time, 'HH24:MI'), 'party_size', b.party_size,
      'starts_at', public.tb_london_iso(b.start_datetime),
      'ends_at', public.tb_london_iso(b.end_datetime),
      'allergies', coalesce(to_json(b.allergies), '[]'::json),
      'dietary_requirements', coalesce(to_json(b.dietary_requirements), '[]'::json),
      'special_requirements', b.special_requirements,
      'celebration_type', b.celebration_type, 'source', b.source,
      'deposit_amount', public.tb_money(b.deposit_amount),
      'total_amount', public.tb_money(b.total_amount),
      'outstanding_amount', public.tb_money(greatest(coalesce(b.total_amount, 0)
                                                     - coalesce(b.deposit_amount, 0), 0)),
      'paid_amount', (select public.tb_money(sum(p.amount))
                      from public.table_booking_payments p
                      where p.booking_id = b.id
                        and p.status in ('completed', 'refunded', 'partial_refund')),
      'hold_expires_at', public.tb_london_iso(b.hold_expires_at),
      'payment_url', (select p.payment_metadata ->> 'approve_url'
                      from public.table_booking_payments p
                      where p.booking_id = b.id and p.status = 'pending'
                      order by p.created_at desc limit 1),
      'modification_count', coalesce(b.modification_count, 0),
      'cancellation_reason', b.cancellation_reason,
      'refund_due', r.refund_due,
      'refund_state', case
        when r.refund_due is null then null
        when r.failed then 'failed'
        when rj.status = 'completed' then 'sent'
        when rj.status in ('failed', 'cancelled') then 'failed'
        when rj.status is not null then 'pending'
        else 'not_queued' end,
      'refund_promised', exists (
        select 1 from public.table_booking_message_ledger l
        join public.jobs j on j.id = l.job_id
        where l.unique_key in (b.id || ':cancellation:sms:default',
                               b.id || ':cancellation:email:default')
          and j.payload #>> '{metadata,refund_state}' = 'pending')),
    'customer', json_build_object(
      'id', c.id, 'first_name', c.first_name, 'last_name', c.last_name,
      'mobile', c.mobile_e164, 'email', c.email),
    'items', coalesce((
      select json_agg(json_build_object(
               'name', coalesce(m.name, i.custom_item_name), 'item_type', i.item_type,
               'quantity', i.quantity, 'guest_name', i.guest_name,
               'price', public.tb_money(i.price_at_booking),
               'special_requests', i.special_requests) order by i.item_type, m.display_order)
      from public.table_booking_items i
      left join public.sunday_lunch_menu_items m on m.id = i.menu_item_id
      where i.booking_id = b.id), '[]'::json),
    'templates', coalesce((
      select json_object_agg(t.template_key, t.template_text)
      from public.table_booking_sms_templates t
      where t.is_active), '{}'::json),
    'settings', json_build_object(
      'contact_phone', public.tb_config() ->> 'contact_phone',
      'review_link', (select case when jsonb_typeof(value) = 'object' and value ? 'value'
                                  then value ->> 'value' else value #>> '{}' end
                      from public.system_settings where key = 'google_review_link')))
  from public.table_bookings b
  left join public.customers c on c.id = b.customer_id
  left join lateral (
    select p.payment_metadata ->> 'refund_due' as refund_due,
           p.payment_metadata ? 'refund_failed_at' as failed
    from public.table_booking_payments p
    where p.booking_id = b.id and p.payment_metadata ? 'refund_due'
    order by p.created_at desc limit 1) r on true
  left join lateral (
    select j.status from public.table_booking_message_ledger l
    join public.jobs j on j.id = l.job_id
    where l.unique_key = 'refund:' || b.id || ':cancellation') rj on true
  where b.id = p_booking_id
$$;

-- Item 12: the texts ------------------------------------------------------------------------------
-- "We have your roast selections ready!" was read ten days ahead: the seeded text is replaced
-- where the pub has not edited it.
update public.table_booking_sms_templates
   set template_text = 'Hi {{customer_name}}, your Sunday lunch booking for {{party_size}} on '
                       '{{date}} at {{time}} is confirmed, and your roast choices are noted. '
                       '£{{deposit_amount}} deposit paid, £{{outstanding_amount}} due on '
                       'arrival. Reference: {{reference}}. Reply STOP to opt out.'
 where template_key = 'booking_confirmation_sunday_lunch'
   and template_text = 'Hi {{customer_name}}, your Sunday lunch booking for {{party_size}} on '
                       '{{date}} at {{time}} is confirmed. We have your roast selections ready! '
                       '£{{deposit_amount}} deposit paid, £{{outstanding_amount}} due on '
                       'arrival. Reference: {{reference}}. Reply STOP to opt out.';

insert into public.table_booking_sms_templates (template_key, booking_type, template_text, variables)
values
  ('cancellation_hold_expired', 'sunday_lunch',
   'Hi {{customer_name}}, your Sunday lunch {{reference}} on {{date}} at {{time}} has been '
   'cancelled because the deposit was not paid in time, so the table was released. No payment '
   'was taken. To book again call {{contact_phone}}.',
   '{customer_name,reference,date,time,contact_phone}'),
  ('refund_problem', null,
   'Hi {{customer_name}}, we could not send the refund of £{{refund_amount}} for booking '
   '{{reference}} automatically. Our team will contact you to arrange it, or call us on '
   '{{contact_phone}}.',
   '{customer_name,refund_amount,reference,contact_phone}')
on conflict (template_key) do nothing;

-- From 20261124000700_messages.sql: the texts about a cancelled booking (its cancellation,
-- the released hold's, a refund that could not be made) are not stale for being cancelled.
create or replace function public.table_booking_sms_begin(
  p_unique_key text, p_customer_id uuid, p_to text, p_table_booking_id uuid default null,
  p_template_key text default null
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  c public.customers;
  v_claimed text;
  v_state text;
  v_status public.table_booking_status;
begin
  -- A text written before the booking was cancelled (held overnight, or queued just before)
  -- is not sent: the guest gets the cancellation, not a stale confirmation or reminder.
  select status into v_status from public.table_bookings where id = p_table_booking_id;
  if v_status = 'cancelled' and p_template_key is distinct from 'cancellation'
     and p_template_key is distinct from 'cancellation_hold_expired'
     and p_template_key is distinct from 'refund_problem' then
    return json_build_object('decision', 'stale', 'reason', 'booking_cancelled', 'email', null);
  end if;
  select * into c from public.customers where id = p_customer_id;
  if not found or c.mobile_e164 is null then
    return json_build_object('decision', 'no_sms', 'reason', 'no_mobile', 'email', c.email);
  end if;
  if c.mobile_e164 <> p_to then
    return json_build_object('decision', 'no_sms', 'reason', 'number_changed', 'email', c.email);
  end if;
  if not coalesce(c.sms_opt_in, false) then
    return json_build_object('decision', 'no_sms', 'reason', 'opted_out', 'email', c.email);
  end if;
  if coalesce(c.sms_status, 'active') <> 'active'
     or coalesce(c.messaging_status, 'active') <> 'active' then
    return json_build_object('decision', 'no_sms', 'reason',
                             'messaging_' || coalesce(nullif(c.messaging_status, 'active'),
                                                      c.sms_status),
                             'email', c.email);
  end if;
  insert into public.idempotency_keys (key, request_hash, response, expires_at)
  values ('sms:' || p_unique_key, encode(sha256(convert_to(p_unique_key, 'UTF8')), 'hex'),
          '{"state": "sending"}'::jsonb, now() + interval '14 days')
  on conflict (key) do nothing
  returning key into v_claimed;
  if v_claimed is null then
    select response ->> 'state' into v_state from public.idempotency_keys
     where key = 'sms:' || p_unique_key;
    if v_state = 'sending' then
      -- Another run is sending it right now (its lease ran out while it waited on Twilio):
      -- come back later, when that send has either gone or released its claim.
      return json_build_object('decision', 'in_flight', 'reason', 'another_run_is_sending',
                               'email', c.email);
    end if;
    return json_build_object('decision', 'duplicate', 'reason', 'already_sent', 'email', c.email);
  end if;
  return json_build_object('decision', 'send', 'reason', null, 'email', c.email);
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'public.table_booking_refund_failed(uuid, text, timestamptz)',
    'public.table_booking_supersede_confirmations(uuid, boolean)'
  ] loop
    execute format('revoke execute on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
