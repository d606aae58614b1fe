-- Payments (plan section 10): PayPal deposits for Sunday lunch, captures, refunds, expiring holds.
--
-- Only PayPal ids and amounts are stored, never card or PayPal account details. Every payment
-- event writes audit_logs (payment.order_created, payment.captured, payment.refunded, ...).

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- The booking a guest (or a key) wants to pay for, and whether it can still be paid ------------
create or replace function public.table_booking_payment_target(
  p_reference text, p_token_hash text, p_now timestamptz
) returns json
language plpgsql stable security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  p public.table_booking_payments;
begin
  b := public.tb_booking_by_reference(p_reference, p_token_hash);
  perform public.tb_require_payable(b, p_now);
  select * into p from public.table_booking_payments
   where booking_id = b.id and status = 'pending' order by created_at desc limit 1;
  return json_build_object(
    'booking_id', b.id, 'booking_reference', b.booking_reference,
    'booking_type', b.booking_type,
    'party_size', b.party_size, 'date', to_char(b.booking_date, 'YYYY-MM-DD'),
    'amount', public.tb_money(b.deposit_amount), 'currency', 'GBP',
    'order_id', b.paypal_deposit_order_id,
    'approve_url', p.payment_metadata ->> 'approve_url',
    'order_amount', p.payment_metadata ->> 'order_amount',
    'expires_at', public.tb_london_iso(b.hold_expires_at));
end
$$;

-- Refuse a booking that cannot take a deposit now.
create or replace function public.tb_require_payable(b public.table_bookings, p_now timestamptz)
returns void
language plpgsql stable security definer set search_path = public, pg_temp as $$
begin
  if b.status = 'confirmed' and b.payment_status = 'completed' then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'The deposit for this booking has already been paid.',
      hint = '{"reason": "ALREADY_PAID"}';
  end if;
  if b.status <> 'pending_payment' or b.deposit_amount is null then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = format('This booking is %s and takes no payment.',
                      replace(b.status::text, '_', '-')),
      hint = jsonb_build_object('reason', 'NOT_PAYABLE', 'status', b.status)::text;
  end if;
  if b.hold_expires_at is not null and b.hold_expires_at <= p_now then
    raise exception using errcode = 'P0001', message = 'BOOKING_NOT_MODIFIABLE',
      detail = 'The time to pay the deposit for this booking ran out, so the table was released. '
               'Please book again.',
      hint = '{"reason": "HOLD_EXPIRED"}';
  end if;
end
$$;

-- A PayPal order was created (or reused) for the deposit.
create or replace function public.table_booking_payment_order(
  p_booking_id uuid, p_order_id text, p_approve_url text, p_amount numeric, p_actor jsonb,
  p_client jsonb
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
begin
  select * into b from public.table_bookings where id = p_booking_id for update;
  if b.paypal_deposit_order_id is not distinct from p_order_id then
    return;
  end if;
  update public.table_bookings set paypal_deposit_order_id = p_order_id,
    payment_method = 'paypal' where id = b.id;
  update public.table_booking_payments set
    transaction_id = p_order_id,
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || jsonb_build_object(
      'paypal_order_id', p_order_id, 'approve_url', p_approve_url,
      'order_amount', public.tb_money(p_amount))
  where booking_id = b.id and status = 'pending';
  perform public.tb_audit('payment.order_created', b.id, 'success', p_actor, p_client, null,
    jsonb_build_object('paypal_order_id', p_order_id, 'amount', public.tb_money(p_amount),
                       'currency', 'GBP'),
    jsonb_build_object('booking_reference', b.booking_reference));
end
$$;

-- The booking a PayPal order belongs to (the return URL carries only the order id).
create or replace function public.table_booking_for_order(p_order_id text) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object('booking_id', b.id, 'booking_reference', b.booking_reference,
                           'status', b.status, 'amount', public.tb_money(b.deposit_amount),
                           'capture_id', b.paypal_deposit_capture_id)
  from public.table_bookings b where b.paypal_deposit_order_id = p_order_id
$$;

-- A capture PayPal reports (return URL or webhook). Idempotent: the same capture twice changes
-- nothing. Returns {outcome: confirmed | already_confirmed | mismatch | pending | released |
-- unknown_order, booking_id, booking_reference}. A capture for a booking whose hold was released
-- queues a full refund: no money is kept for a table that was given away.
create or replace function public.table_booking_payment_captured(
  p_order_id text, p_booking_id uuid, p_capture jsonb, p_source text, p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_after public.table_bookings;
  b public.table_bookings;
  v_amount numeric := (p_capture ->> 'amount')::numeric;
  v_free integer;
  v_result json;
  v_actor jsonb := jsonb_build_object('kind', 'system', 'name', 'paypal:' || p_source);
begin
  select * into b from public.table_bookings
   where paypal_deposit_order_id = p_order_id or (p_order_id is null and id = p_booking_id)
   order by (paypal_deposit_order_id = p_order_id) desc nulls last
   limit 1 for update;
  if not found then
    return json_build_object('outcome', 'unknown_order');
  end if;
  if b.paypal_deposit_capture_id = p_capture ->> 'id' then
    -- The same capture again (a reloaded return page, the webhook after the return): say what
    -- happened the first time.
    return json_build_object(
      'outcome', case when b.status = 'confirmed' then 'already_confirmed' else 'released' end,
      'booking_id', b.id, 'booking_reference', b.booking_reference);
  end if;
  if v_amount is distinct from b.deposit_amount or p_capture ->> 'currency' <> 'GBP' then
    perform public.tb_audit('payment.capture_amount_mismatch', b.id, 'failure', v_actor, null,
      null, p_capture, jsonb_build_object('booking_reference', b.booking_reference,
                                          'expected', public.tb_money(b.deposit_amount),
                                          'source', p_source),
      'The captured amount is not the deposit due.');
    return json_build_object('outcome', 'mismatch', 'booking_id', b.id,
                             'booking_reference', b.booking_reference);
  end if;
  if p_capture ->> 'status' <> 'COMPLETED' then
    update public.table_booking_payments set payment_metadata = coalesce(payment_metadata,
      '{}'::jsonb) || jsonb_build_object('capture_status', p_capture ->> 'status',
                                         'capture_id', p_capture ->> 'id')
    where booking_id = b.id and status = 'pending';
    return json_build_object('outcome', 'pending', 'booking_id', b.id,
                             'booking_reference', b.booking_reference);
  end if;

  -- Still payable: pending, and either inside its hold or (hold run out, not yet released by
  -- the expiry cron) with its covers still free.
  if b.status = 'pending_payment' and b.hold_expires_at is not null and b.hold_expires_at <= p_now
     and public.tb_venue_has_tables() then
    -- Seated by tables: its own tables (or its outside places) must still be its alone, and the
    -- kitchen's pacing must still take it, decided under the floor's lock.
    perform public.tb_lock_floor();
    v_free := case
      when exists (
        select 1
        from public.booking_table_assignments a
        join public.booking_table_assignments o
          on o.table_id = a.table_id and o.table_booking_id <> a.table_booking_id
         and o.start_datetime < a.end_datetime and o.end_datetime > a.start_datetime
        join public.table_bookings ob on ob.id = o.table_booking_id
        where a.table_booking_id = b.id
          and public.tb_is_live(ob.status::text, ob.left_at, ob.hold_expires_at,
                                ob.payment_status::text, p_now))
        or (b.is_outside_seating and public.tb_outside_refusal(
              b.start_datetime,
              coalesce((select r.ends_at from public.outside_reservations r
                        where r.table_booking_id = b.id), b.end_datetime),
              b.party_size, p_now, b.id) is not null)
        or public.tb_pacing_refusal(b.booking_date, b.booking_time, b.committed_party_size,
                                    b.booking_purpose, false, p_now, b.id) is not null
      then 0 else b.party_size end;
  elsif b.status = 'pending_payment' and b.hold_expires_at is not null
        and b.hold_expires_at <= p_now then
    perform public.tb_claim_covers(array[b.booking_date], b.booking_date, b.booking_time,
                                   b.start_datetime, b.duration_minutes, b.booking_type,
                                   0, p_now, b.id);
    v_free := public.table_booking_covers_free(b.booking_date, b.booking_time, b.start_datetime,
                                               b.duration_minutes, b.booking_type, p_now, b.id);
  end if;
  if b.status <> 'pending_payment' or (v_free is not null and v_free < b.party_size) then
    perform public.tb_queue_refund(b.id, p_capture ->> 'id', v_amount, 'released',
                                   'Deposit refunded: the table had been released.');
    update public.table_booking_payments set status = 'completed', paid_at = p_now,
      transaction_id = p_capture ->> 'id',
      payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || jsonb_build_object(
        'capture_id', p_capture ->> 'id', 'capture_after_release', true,
        'refund_due', public.tb_money(v_amount))
    where booking_id = b.id and status in ('pending', 'failed');
    update public.table_bookings set paypal_deposit_capture_id = p_capture ->> 'id'
    where id = b.id;
    perform public.tb_audit('payment.capture_after_release', b.id, 'success', v_actor, null,
      null, p_capture, jsonb_build_object('booking_reference', b.booking_reference,
                                          'status', b.status, 'source', p_source,
                                          'refund', public.tb_money(v_amount)));
    return json_build_object('outcome', 'released', 'booking_id', b.id,
                             'booking_reference', b.booking_reference);
  end if;

  update public.table_bookings set status = 'confirmed', confirmed_at = p_now,
    payment_status = 'completed', payment_method = 'paypal',
    paypal_deposit_capture_id = p_capture ->> 'id', hold_expires_at = null
  where id = b.id
  returning * into v_after;
  perform public.tb_booking_written(b, v_after);
  update public.table_booking_payments set status = 'completed', paid_at = p_now,
    transaction_id = p_capture ->> 'id',
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || jsonb_build_object(
      'capture_id', p_capture ->> 'id', 'paypal_order_id', p_order_id, 'captured_via', p_source)
  where booking_id = b.id and status = 'pending';
  perform public.table_booking_deposit_sync(b.id, p_now);  -- the payment hold is consumed
  perform public.tb_audit('payment.captured', b.id, 'success', v_actor, null, null,
    jsonb_build_object('capture_id', p_capture ->> 'id', 'amount', public.tb_money(v_amount),
                       'currency', 'GBP'),
    jsonb_build_object('booking_reference', b.booking_reference, 'source', p_source));
  return json_build_object('outcome', 'confirmed', 'booking_id', b.id,
                           'booking_reference', b.booking_reference);
end
$$;

-- Refunds go through the job queue: queued in the transaction that decides them, sent once
-- (PayPal-Request-Id from the ledger key), retried through outages.
create or replace function public.tb_queue_refund(
  p_booking_id uuid, p_capture_id text, p_amount numeric, p_stage text, p_note text
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_key text := 'refund:' || p_booking_id || ':' || p_stage;
begin
  if p_amount is null or p_amount <= 0 or p_capture_id is null then
    return;
  end if;
  perform public.tb_queue_job_once(
    v_key, p_booking_id, 'table_booking_refund',
    jsonb_build_object('table_booking_id', p_booking_id, 'capture_id', p_capture_id,
                       'amount', public.tb_money(p_amount), 'currency', 'GBP', 'note', p_note,
                       -- PayPal keeps refund request ids 45 days: the same refund is sent once.
                       'request_id', replace(v_key, ':', '-')),
    8, 6);
end
$$;

-- PayPal refunded (our refund job, or a PAYMENT.CAPTURE.REFUNDED webhook): record it once.
create or replace function public.table_booking_refund_recorded(
  p_capture_id text, p_refund jsonb, p_source text, p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  p public.table_booking_payments;
  v_refunded numeric;
begin
  select * into p from public.table_booking_payments
   where transaction_id = p_capture_id or payment_metadata ->> 'capture_id' = p_capture_id
   order by created_at desc limit 1 for update;
  if not found then
    return json_build_object('outcome', 'unknown_capture');
  end if;
  if coalesce(p.payment_metadata -> 'refund_ids', '[]'::jsonb) ? (p_refund ->> 'id') then
    return json_build_object('outcome', 'already_recorded', 'booking_id', p.booking_id);
  end if;
  v_refunded := coalesce(p.refund_amount, 0) + (p_refund ->> 'amount')::numeric;
  update public.table_booking_payments set
    refund_amount = v_refunded,
    refund_transaction_id = p_refund ->> 'id',
    refunded_at = p_now,
    status = case when v_refunded >= amount then 'refunded'::public.payment_status
                  else 'partial_refund'::public.payment_status end,
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || jsonb_build_object(
      'refund_ids', coalesce(payment_metadata -> 'refund_ids', '[]'::jsonb)
                    || jsonb_build_array(p_refund ->> 'id'))
  where id = p.id;
  update public.table_bookings set payment_status = case when v_refunded >= p.amount
    then 'refunded'::public.payment_status else 'partial_refund'::public.payment_status end
  where id = p.booking_id;
  perform public.tb_audit('payment.refunded', p.booking_id, 'success',
    jsonb_build_object('kind', 'system', 'name', 'paypal:' || p_source), null, null,
    jsonb_build_object('refund_id', p_refund ->> 'id', 'amount', p_refund ->> 'amount',
                       'status', p_refund ->> 'status', 'capture_id', p_capture_id),
    jsonb_build_object('source', p_source));
  return json_build_object('outcome', 'recorded', 'booking_id', p.booking_id,
                           'refunded_total', public.tb_money(v_refunded));
end
$$;

-- PAYMENT.CAPTURE.DENIED / REVERSED: recorded on the payment and flagged for staff.
create or replace function public.table_booking_payment_flagged(
  p_capture_id text, p_order_id text, p_event_type text, p_now timestamptz
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
begin
  select * into b from public.table_bookings
   where paypal_deposit_capture_id = p_capture_id
      or (p_order_id is not null and paypal_deposit_order_id = p_order_id)
   limit 1 for update;
  if not found then
    return json_build_object('outcome', 'unknown');
  end if;
  update public.table_booking_payments set
    status = case when p_event_type = 'PAYMENT.CAPTURE.DENIED' then 'failed'::public.payment_status
                  else status end,
    payment_metadata = coalesce(payment_metadata, '{}'::jsonb) || jsonb_build_object(
      'flag', p_event_type, 'flagged_at', p_now)
  where booking_id = b.id;
  update public.table_bookings set internal_notes = concat_ws(E'\n', internal_notes,
    format('%s: PayPal %s for capture %s; check the payment.',
           to_char(p_now at time zone 'Europe/London', 'YYYY-MM-DD HH24:MI'),
           lower(replace(p_event_type, 'PAYMENT.CAPTURE.', '')), p_capture_id))
  where id = b.id;
  perform public.tb_audit('payment.' || lower(replace(p_event_type, 'PAYMENT.CAPTURE.', 'capture_')),
    b.id, 'failure', jsonb_build_object('kind', 'system', 'name', 'paypal:webhook'), null, null,
    jsonb_build_object('capture_id', p_capture_id, 'event', p_event_type),
    jsonb_build_object('booking_reference', b.booking_reference, 'flagged', true),
    'PayPal ' || p_event_type);
  return json_build_object('outcome', 'flagged', 'booking_id', b.id);
end
$$;

-- Webhook events are handled once each (their id is the key), kept 30 days.
create or replace function public.paypal_webhook_claim(p_event_id text, p_event_type text)
returns boolean
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_key text;
begin
  insert into public.idempotency_keys (key, request_hash, response, expires_at)
  values ('webhook:paypal:table-bookings:' || p_event_id,
          encode(sha256(convert_to(p_event_id, 'UTF8')), 'hex'),
          jsonb_build_object('event_type', p_event_type), now() + interval '30 days')
  on conflict (key) do nothing
  returning key into v_key;
  return v_key is not null;
end
$$;

create or replace function public.paypal_webhook_release(p_event_id text) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  delete from public.idempotency_keys where key = 'webhook:paypal:table-bookings:' || p_event_id
$$;

-- Holds that expire (plan: Payment Processing): unpaid Sunday lunches whose hold passed are
-- cancelled, which frees their covers and tells the guest. Only this service's bookings (they
-- carry a manage token): the pub's own holds are the pub's deposit-timeout cron's.
create or replace function public.table_booking_expire_holds(p_now timestamptz) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_after public.table_bookings;
  v_count integer := 0;
begin
  for b in
    select * from public.table_bookings
    where status = 'pending_payment' and hold_expires_at is not null and hold_expires_at <= p_now
      and manage_token_hash is not null
      -- Every deposit booking, whatever owes it (Sunday lunch, a group, a seasonal period),
      -- guarded as the pub's deposit timeout guards it (its section 6.5).
      and not coalesce(deposit_waived, false) and paypal_deposit_capture_id is null
      and payment_status is distinct from 'completed'
      and payment_status is distinct from 'partial_refund'
      and payment_status is distinct from 'refunded'
    for update skip locked
  loop
    update public.table_bookings set status = 'cancelled', cancelled_at = p_now,
      cancelled_by = 'system', cancellation_reason = 'payment_hold_expired',
      hold_expires_at = null
    where id = b.id
    returning * into v_after;
    perform public.tb_booking_written(b, v_after);
    update public.table_booking_payments set status = 'failed',
      payment_metadata = coalesce(payment_metadata, '{}'::jsonb)
                         || '{"closed_reason": "payment_hold_expired"}'::jsonb
    where booking_id = b.id and status = 'pending';
    perform public.table_booking_deposit_sync(b.id, p_now);  -- the payment hold has expired
    perform public.tb_audit('table_booking.auto_cancelled', b.id, 'success',
      '{"kind": "system", "name": "payment-expiry"}'::jsonb, null,
      '{"status": "pending_payment"}'::jsonb, '{"status": "cancelled"}'::jsonb,
      jsonb_build_object('booking_reference', b.booking_reference,
                         'reason', 'payment_hold_expired'));
    v_count := v_count + 1;
  end loop;
  return json_build_object('cancelled', v_count);
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

-- A refused delivery from p_client: 'limited' past p_limit this minute (nothing written),
-- 'logged' for the first p_log_limit (a row without the body), else 'unlogged'.
create or replace function public.paypal_webhook_refused(
  p_client text, p_status text, p_headers jsonb, p_error text, p_body_bytes integer,
  p_log_limit integer, p_limit integer, p_now timestamptz
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_rate record;
begin
  select * into v_rate from public.tb_rate_hit(
    'paypal_webhook_refused:' || coalesce(p_client, 'unknown'), p_limit, 60, p_now);
  if not v_rate.allowed then
    return 'limited';
  end if;
  if v_rate.hit_limit - v_rate.remaining > p_log_limit then
    return 'unlogged';
  end if;
  insert into public.webhook_logs (webhook_type, status, headers, body, params, error_message)
  values ('paypal', p_status, p_headers, null,
          jsonb_build_object('body_bytes', p_body_bytes, 'client_ip', p_client),
          left(p_error, 500));
  return 'logged';
end
$$;

-- Deposits by rule: what the pub keeps beside a deposit booking, kept in step with it. Idempotent,
-- called after a deposit booking is written (the create, a cancel; the capture and the expiry
-- call it themselves). Until table_booking_create and table_booking_cancel call it in their own
-- transactions, the service calls it right after them (and before a cancel, so the refund is
-- reckoned by the frozen terms).
--  * The refund terms: a deposit taken by the pub's rule (deposit_rule group or period) gets its
--    frozen snapshot copied into refund_policy (refund_terms 'seasonal' with
--    deposit_refund_cutoff_days and the sentence deposit_refund_policy, else 'group_days'), which
--    tb_refund_due reads. Written once: a refund_policy that has refund_terms is never changed.
--  * The payment hold (its section 6.5): a booking_holds row payment_hold (seats = party,
--    expires_at = hold_expires_at) while the deposit is due; consumed once paid, expired when the
--    hold lapsed unpaid, released when cancelled otherwise.
-- p_reference (instead of p_booking_id): the booking of that reference, if any.
create or replace function public.table_booking_deposit_sync(
  p_booking_id uuid, p_now timestamptz, p_reference text default null
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_hold text;
begin
  select * into b from public.table_bookings
   where id = p_booking_id or (p_booking_id is null and booking_reference = upper(trim(p_reference)))
   limit 1 for update;
  if not found then
    return null;
  end if;
  if coalesce(b.deposit_amount, 0) > 0 and b.deposit_rule in ('group', 'period')
     and not coalesce(b.refund_policy ? 'refund_terms', false) then
    update public.table_bookings set refund_policy = coalesce(refund_policy, '{}'::jsonb)
      || case when b.deposit_refund_cutoff_days is not null
              then jsonb_build_object('refund_terms', 'seasonal',
                                      'deposit_refund_cutoff_days', b.deposit_refund_cutoff_days,
                                      'deposit_refund_policy', b.deposit_refund_policy)
              else jsonb_build_object('refund_terms', 'group_days') end
    where id = b.id
    returning * into b;
  end if;
  if b.status = 'pending_payment' and b.hold_expires_at is not null
     and coalesce(b.deposit_amount, 0) > 0
     and not exists (select 1 from public.booking_holds h
                     where h.table_booking_id = b.id and h.hold_type = 'payment_hold') then
    insert into public.booking_holds (hold_type, table_booking_id, seats_or_covers_held, status,
                                      scheduled_sms_send_time, expires_at, created_at, updated_at)
    values ('payment_hold', b.id, greatest(b.party_size, 1), 'active', p_now, b.hold_expires_at,
            p_now, p_now);
  elsif b.status <> 'pending_payment' then
    v_hold := case when b.status = 'confirmed' then 'consumed'
                   when b.status = 'cancelled'
                        and b.cancellation_reason = 'payment_hold_expired' then 'expired'
                   else 'released' end;
    update public.booking_holds set status = v_hold, updated_at = p_now,
      consumed_at = case when v_hold = 'consumed' then p_now else consumed_at end,
      released_at = case when v_hold <> 'consumed' then p_now else released_at end
    where table_booking_id = b.id and hold_type = 'payment_hold' and status = 'active';
  end if;
  select h.status into v_hold from public.booking_holds h
   where h.table_booking_id = b.id and h.hold_type = 'payment_hold'
   order by h.created_at desc limit 1;
  return json_build_object('refund_policy', b.refund_policy, 'hold', v_hold);
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.table_booking_payment_target',
  'public.tb_require_payable',
  'public.table_booking_payment_order',
  'public.table_booking_for_order',
  'public.table_booking_payment_captured',
  'public.tb_queue_refund',
  'public.table_booking_refund_recorded',
  'public.table_booking_payment_flagged',
  'public.paypal_webhook_claim',
  'public.paypal_webhook_release',
  'public.table_booking_expire_holds',
  'public.table_booking_refund_failed',
  'public.paypal_webhook_refused',
  'public.table_booking_deposit_sync'
]);
