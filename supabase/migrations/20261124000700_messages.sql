-- Messages: templates, the queue (the shared jobs table), sending once, delivery status,
-- reminders, review requests.
--
-- A booking's transaction queues one job of type table_booking_notify {table_booking_id, event}.
-- The worker turns it into table_booking_sms / table_booking_email jobs (types of our own; the pub's
-- send_sms jobs are its own worker's) in the shared table, each unique per
-- booking, template and stage (table_booking_message_ledger), then sends them. An SMS claims
-- idempotency_keys 'sms:<unique key>' before it goes to Twilio, so even a worker that dies
-- between sending and recording never sends the same text again.

-- Templates (plan section 2), editable by the pub in table_booking_sms_templates ------------------
insert into public.table_booking_sms_templates (template_key, booking_type, template_text, variables)
values
  ('booking_confirmation_regular', 'regular',
   'Hi {{customer_name}}, your table for {{party_size}} at The Anchor on {{date}} at {{time}} is '
   'confirmed. Reference: {{reference}}. Reply STOP to opt out.',
   '{customer_name,party_size,date,time,reference}'),
  ('booking_confirmation_sunday_lunch', 'sunday_lunch',
   'Hi {{customer_name}}, your Sunday lunch booking for {{party_size}} on {{date}} at {{time}} is '
   'confirmed, and your roast choices are noted. £{{deposit_amount}} deposit paid, '
   '£{{outstanding_amount}} due on arrival. Reference: {{reference}}. Reply STOP to opt out.',
   '{customer_name,party_size,date,time,deposit_amount,outstanding_amount,reference}'),
  ('reminder_regular', 'regular',
   'Reminder: Your table at The Anchor is booked for {{day}} at {{time}}. Party of '
   '{{party_size}}. We look forward to seeing you! Ref: {{reference}}',
   '{day,time,party_size,reference}'),
  ('reminder_sunday_lunch', 'sunday_lunch',
   'Sunday Lunch Reminder: Table for {{party_size}} at {{time}} {{day}}. {{roast_summary}}. '
   'Allergies noted: {{allergies}}. £{{outstanding_amount}} due on arrival. See you soon! '
   'Ref: {{reference}}',
   '{party_size,time,day,roast_summary,allergies,outstanding_amount,reference}'),
  ('cancellation', null,
   'Your booking {{reference}} at The Anchor has been cancelled. {{refund_message}} For '
   'assistance call {{contact_phone}}.',
   '{reference,refund_message,contact_phone}'),
  ('review_request', null,
   'Thanks for dining at The Anchor today! We''d love your feedback: {{review_link}} Reply STOP '
   'to opt out.',
   '{review_link}'),
  ('payment_request', 'sunday_lunch',
   'Hi {{customer_name}}, to confirm Sunday lunch for {{party_size}} on {{date}} please pay the '
   '£{{deposit_amount}} deposit by {{deadline}}: {{payment_link}} Ref: {{reference}}',
   '{customer_name,party_size,date,deposit_amount,deadline,payment_link,reference}'),
  ('booking_update_regular', 'regular',
   'Hi {{customer_name}}, your booking {{reference}} at The Anchor is now for {{party_size}} on '
   '{{date}} at {{time}}. Reply STOP to opt out.',
   '{customer_name,reference,party_size,date,time}'),
  ('booking_update_sunday_lunch', 'sunday_lunch',
   'Hi {{customer_name}}, your Sunday lunch {{reference}} at The Anchor is now on {{date}} at '
   '{{time}} for {{party_size}}. Reply STOP to opt out.',
   '{customer_name,reference,date,time,party_size}')
on conflict (template_key) do nothing;

-- The ledger: one row per message a booking may ever get (booking, template, stage) --------------
create table if not exists public.table_booking_message_ledger (
  unique_key text primary key,
  table_booking_id uuid references public.table_bookings (id) on delete cascade,
  job_id uuid,
  created_at timestamptz not null default now()
);
alter table public.table_booking_message_ledger enable row level security;

-- Messages recorded instead of sent when no provider is configured (the embedded default).
create table if not exists public.table_booking_outbox (
  id uuid primary key default gen_random_uuid(),
  channel text not null check (channel in ('sms', 'email')),
  recipient text not null,
  subject text,
  body text not null,
  attachments jsonb not null default '[]'::jsonb,
  table_booking_id uuid references public.table_bookings (id) on delete set null,
  template_key text,
  job_id uuid,
  created_at timestamptz not null default now()
);
create index if not exists idx_table_booking_outbox_booking
  on public.table_booking_outbox (table_booking_id);
alter table public.table_booking_outbox enable row level security;

-- Item 11: one message when a confirmation and an update are both due -----------------------------
create index if not exists idx_table_booking_message_ledger_booking
  on public.table_booking_message_ledger (table_booking_id);

-- Two texts of issue 18 (item 12), added where the project has no template of that key.
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

-- Deposits by rule (a group of 15 or more, a seasonal period): a regular booking awaiting its
-- deposit, paid, or released unpaid, in words of its own (not Sunday lunch's). Added where the
-- project has no template of that key; the pub's own rows are never changed.
insert into public.table_booking_sms_templates (template_key, booking_type, template_text, variables)
values
  ('payment_request_table', 'regular',
   'Hi {{customer_name}}, to confirm your table for {{party_size}} on {{date}} at {{time}} please '
   'pay the £{{deposit_amount}} deposit by {{deadline}}: {{payment_link}} Ref: {{reference}}',
   '{customer_name,party_size,date,time,deposit_amount,deadline,payment_link,reference}'),
  ('booking_confirmation_regular_deposit', 'regular',
   'Hi {{customer_name}}, your table for {{party_size}} at The Anchor on {{date}} at {{time}} is '
   'confirmed. Your £{{deposit_amount}} deposit is paid and comes off your bill on the day. '
   'Reference: {{reference}}. Reply STOP to opt out.',
   '{customer_name,party_size,date,time,deposit_amount,reference}'),
  ('cancellation_hold_expired_table', 'regular',
   'Hi {{customer_name}}, your table for {{party_size}} on {{date}} at {{time}} ({{reference}}) '
   'has been cancelled because the deposit was not paid in time, so the table was released. No '
   'payment was taken. To book again call {{contact_phone}}.',
   '{customer_name,party_size,date,time,reference,contact_phone}')
on conflict (template_key) do nothing;

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

-- .
create or replace function public.tb_queue_job_once(
  p_key text, p_booking_id uuid, p_type text, p_payload jsonb, p_priority integer,
  p_max_attempts integer
) returns uuid
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_job uuid;
begin
  -- Queued once per key: a key already in the ledger queues nothing (null).
  with ledger as (
    insert into public.table_booking_message_ledger (unique_key, table_booking_id, job_id)
    values (p_key, p_booking_id, gen_random_uuid())
    on conflict (unique_key) do nothing
    returning job_id
  )
  insert into public.jobs (id, type, payload, priority, max_attempts)
  select ledger.job_id, p_type, p_payload, p_priority, p_max_attempts from ledger
  returning id into v_job;
  return v_job;
end
$$;

-- Queue a notification inside a booking's own transaction -----------------------------------------
create or replace function public.tb_queue_notification(
  p_booking_id uuid,
  p_event text,
  p_stage text default 'default'
) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  select public.tb_queue_job_once(
    'notify:' || p_booking_id || ':' || p_event || ':' || p_stage, p_booking_id,
    'table_booking_notify',
    jsonb_build_object('table_booking_id', p_booking_id, 'event', p_event, 'stage', p_stage),
    5, 5)
$$;

-- Reminders (plan section 9): each confirmed booking once. Sunday lunch the day before from
-- p_sunday_lunch_hour, regular bookings on the day from p_regular_hour, both London time.
-- Marks reminder_sent in the same transaction that queues, so overlapping runs queue once.
create or replace function public.table_booking_queue_reminders(
  p_now timestamptz, p_sunday_lunch_hour integer, p_regular_hour integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_local timestamp := p_now at time zone 'Europe/London';
  b record;
  v_count integer := 0;
begin
  for b in
    select t.id, t.booking_type, t.booking_date, t.booking_time
    from public.table_bookings t
    where t.status = 'confirmed' and not coalesce(t.reminder_sent, false)
      and t.manage_token_hash is not null
      and t.start_datetime > p_now
      and ((t.booking_type = 'sunday_lunch' and t.booking_date = v_local::date + 1
            and extract(hour from v_local) >= p_sunday_lunch_hour)
           or (t.booking_type = 'regular' and t.booking_date = v_local::date
               and extract(hour from v_local) >= p_regular_hour))
    for update skip locked
  loop
    update public.table_bookings set reminder_sent = true where id = b.id;
    -- A moved booking is reminded again for its new date and time.
    perform public.tb_queue_notification(
      b.id, 'reminder', to_char(b.booking_date, 'YYYY-MM-DD') || 'T' || to_char(b.booking_time, 'HH24:MI'));
    v_count := v_count + 1;
  end loop;
  return json_build_object('queued', v_count);
end
$$;

-- Review requests: once per booking, p_delay_hours after it ended (and not later than two days),
-- only with a review link configured and the guest opted in to texts.
create or replace function public.table_booking_queue_reviews(
  p_now timestamptz, p_delay_hours integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b record;
  v_count integer := 0;
  v_link text := (select case when jsonb_typeof(value) = 'object' and value ? 'value'
                              then value ->> 'value' else value #>> '{}' end
                  from public.system_settings where key = 'google_review_link');
begin
  if nullif(trim(v_link), '') is null then
    return json_build_object('queued', 0, 'skipped', 'no_review_link');
  end if;
  for b in
    select t.id
    from public.table_bookings t
    join public.customers c on c.id = t.customer_id
    where t.status in ('confirmed', 'completed') and t.review_sms_sent_at is null
      and t.manage_token_hash is not null
      and c.sms_opt_in and c.mobile_e164 is not null
      and t.end_datetime + make_interval(hours => p_delay_hours) <= p_now
      and t.end_datetime > p_now - interval '48 hours'
    for update of t skip locked
  loop
    update public.table_bookings set review_sms_sent_at = p_now where id = b.id;
    perform public.tb_queue_notification(b.id, 'review');
    v_count := v_count + 1;
  end loop;
  return json_build_object('queued', v_count);
end
$$;

-- The kitchen's Sunday lunch prep list: once per Sunday, after the Saturday cut-off.
create or replace function public.table_booking_sunday_prep(p_now timestamptz) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_local timestamp := p_now at time zone 'Europe/London';
  v_sunday date := v_local::date + 1;
begin
  if extract(dow from v_local) <> 6
     or v_local::time < (public.tb_config() ->> 'sunday_lunch_cutoff_time')::time then
    return json_build_object('queued', false);
  end if;
  return json_build_object(
    'queued', public.tb_queue_job_once(
      'kitchen_prep:' || v_sunday, null, 'table_booking_notify',
      jsonb_build_object('event', 'kitchen_prep', 'date', v_sunday, 'stage', 'default'), 5, 5)
      is not null,
    'date', v_sunday);
end
$$;

-- Tomorrow's Sunday lunch, counted for the kitchen.
create or replace function public.table_booking_prep_list(p_date date) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object(
    'date', to_char(p_date, 'YYYY-MM-DD'),
    'bookings', coalesce((
      select json_agg(json_build_object(
               'reference', b.booking_reference, 'time', to_char(b.booking_time, 'HH24:MI'),
               'party_size', b.party_size, 'name', trim(c.first_name || ' ' || c.last_name),
               'allergies', coalesce(to_json(b.allergies), '[]'::json),
               'dietary_requirements', coalesce(to_json(b.dietary_requirements), '[]'::json),
               'special_requirements', b.special_requirements,
               'items', (select json_agg(json_build_object(
                                  'name', coalesce(m.name, i.custom_item_name),
                                  'quantity', i.quantity, 'guest_name', i.guest_name,
                                  'item_type', i.item_type) order by i.item_type, m.display_order)
                         from public.table_booking_items i
                         left join public.sunday_lunch_menu_items m on m.id = i.menu_item_id
                         where i.booking_id = b.id))
             order by b.booking_time, b.booking_reference)
      from public.table_bookings b
      left join public.customers c on c.id = b.customer_id
      where b.booking_date = p_date and b.booking_type = 'sunday_lunch'
        and b.status = 'confirmed'), '[]'::json),
    'totals', coalesce((
      select json_agg(json_build_object('name', x.name, 'item_type', x.item_type,
                                        'quantity', x.quantity) order by x.item_type, x.name)
      from (select coalesce(m.name, i.custom_item_name) as name, i.item_type,
                   sum(i.quantity) as quantity
            from public.table_booking_items i
            join public.table_bookings b on b.id = i.booking_id
            left join public.sunday_lunch_menu_items m on m.id = i.menu_item_id
            where b.booking_date = p_date and b.booking_type = 'sunday_lunch'
              and b.status = 'confirmed'
            group by 1, 2) x), '[]'::json))
$$;

-- A reminder the worker sent (or failed to), for table_booking_reminder_history.
create or replace function public.table_booking_reminder_sent(
  p_booking_id uuid, p_channel text, p_status text, p_error text
) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  insert into public.table_booking_reminder_history (booking_id, reminder_type, status,
                                                     error_message)
  values (p_booking_id, p_channel, p_status, left(p_error, 500))
$$;

-- Items 10 and 12: what a message needs to tell the truth ------------------------------------------
-- with: paid_amount (what was paid, so an unpaid deposit is
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
      -- Where the venue seats by tables: the booking's tables (or Outside), for staff and guest.
      'table_name', case when b.is_outside_seating then 'Outside'
                         else public.tb_tables_label(array(
                                select a.table_id from public.booking_table_assignments a
                                where a.table_booking_id = b.id)) end,
      'high_chair_count', b.high_chair_count,
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

-- Queue send jobs in the shared format, each at most once (ledger) ------------------------------
-- p_jobs: [{unique_key, type: table_booking_sms|table_booking_email, payload, table_booking_id}]
create or replace function public.table_booking_queue_sends(p_jobs jsonb) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  j jsonb;
  v_queued integer := 0;
  v_duplicates integer := 0;
begin
  for j in select * from jsonb_array_elements(p_jobs) loop
    if public.tb_queue_job_once(
         j ->> 'unique_key', (j ->> 'table_booking_id')::uuid, j ->> 'type',
         (j -> 'payload') || jsonb_build_object('unique_key', j ->> 'unique_key'), 3, 4) is null
    then
      v_duplicates := v_duplicates + 1;
    else
      v_queued := v_queued + 1;
    end if;
  end loop;
  return json_build_object('queued', v_queued, 'duplicates', v_duplicates);
end
$$;

-- Worker: recover expired leases, then claim ------------------------------------------------------
-- One worker run handles a job at most once (issue 17). The run passes the ids it has already
-- handled (deferred for quiet hours, retried, failed, done) and the claim skips them, so a job
-- that is due again at once by the database's clock (a deferral or a retry into what the
-- database already sees as the past) waits for the next run instead of looping in this one.
-- The claim is our own statement (the pub's claim_jobs takes no exclusions): skip-locked and
-- leased like the pub's, limited to this service's own job types: the pub's
-- jobs in the same table (its send_sms, ...) are never claimed, reset or touched.
create or replace function public.table_booking_claim_jobs(
  p_batch_size integer,
  p_lease_seconds integer default 120,
  p_exclude uuid[] default '{}'
) returns setof public.jobs
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_types constant text[] :=
    array['table_booking_notify', 'table_booking_sms', 'table_booking_email',
          'table_booking_refund'];
begin
  if p_batch_size is null or p_batch_size <= 0 then
    return;
  end if;
  -- A worker that died leaves its jobs 'processing'; once the lease is over they are due again
  -- (or failed, when they have used their attempts).
  update public.jobs set
    status = case when attempts < max_attempts then 'pending' else 'failed' end,
    failed_at = case when attempts < max_attempts then failed_at else now() end,
    error_message = coalesce(error_message, 'lease expired'),
    processing_token = null,
    lease_expires_at = null
  where status = 'processing'
    and type = any (v_types)
    and lease_expires_at < now();
  return query
    with picked as (
      select j.id
      from public.jobs j
      where j.status = 'pending'
        and j.scheduled_for <= now()
        and j.type = any (v_types)
        and coalesce(j.attempts, 0) < coalesce(j.max_attempts, 3)
        and j.id <> all (coalesce(p_exclude, '{}'))
      order by j.priority desc, j.created_at asc
      limit p_batch_size
      for update skip locked
    )
    update public.jobs j
       set status            = 'processing',
           started_at        = now(),
           processing_token  = gen_random_uuid(),
           lease_expires_at  = now() + make_interval(secs => coalesce(p_lease_seconds, 120)),
           last_heartbeat_at = now(),
           attempts          = coalesce(j.attempts, 0) + 1,
           updated_at        = now()
      from picked
     where j.id = picked.id
    returning j.*;
end
$$;

-- Job outcomes, guarded by the claim's token (a job whose lease was taken over is left alone).
create or replace function public.table_booking_job_done(
  p_job_id uuid, p_token uuid, p_result jsonb
) returns boolean
language sql volatile security definer set search_path = public, pg_temp as $$
  with done as (
    update public.jobs set status = 'completed', completed_at = now(), result = p_result,
           processing_token = null, lease_expires_at = null, error_message = null
    where id = p_job_id and processing_token = p_token and status = 'processing'
    returning 1)
  select exists (select 1 from done)
$$;

-- A failure: retried after 1, 2, 4 ... minutes while attempts remain (p_retry), else failed.
create or replace function public.table_booking_job_failed(
  p_job_id uuid, p_token uuid, p_error text, p_retry boolean, p_delay_seconds integer default null
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  j public.jobs;
begin
  select * into j from public.jobs where id = p_job_id and processing_token = p_token
   and status = 'processing' for update;
  if not found then
    return 'lost';
  end if;
  if p_retry and j.attempts < j.max_attempts then
    update public.jobs set status = 'pending',
      -- 1, 2, 4 ... minutes; a provider's Retry-After may ask for longer, never for sooner.
      scheduled_for = now() + make_interval(secs => greatest(
        coalesce(p_delay_seconds, 0), 60 * power(2, greatest(j.attempts - 1, 0))::int)),
      error_message = left(p_error, 1000), processing_token = null, lease_expires_at = null
    where id = j.id;
    return 'retry';
  end if;
  update public.jobs set status = 'failed', failed_at = now(), error_message = left(p_error, 1000),
    processing_token = null, lease_expires_at = null
  where id = j.id;
  return 'failed';
end
$$;

-- Quiet hours: put an SMS back until p_until without using up an attempt.
create or replace function public.table_booking_job_defer(
  p_job_id uuid, p_token uuid, p_until timestamptz
) returns boolean
language sql volatile security definer set search_path = public, pg_temp as $$
  with deferred as (
    update public.jobs set status = 'pending', scheduled_for = p_until,
      attempts = greatest(attempts - 1, 0), processing_token = null, lease_expires_at = null
    where id = p_job_id and processing_token = p_token and status = 'processing'
    returning 1)
  select exists (select 1 from deferred)
$$;

-- the texts about a cancelled booking (its cancellation,
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
  if v_status = 'cancelled'
     and coalesce(p_template_key, '') not in ('cancellation', 'cancellation_hold_expired',
                                              'cancellation_hold_expired_table', 'refund_problem')
  then
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

-- After Twilio (or the outbox) took it: the messages row, the job done, the audit, in one call.
-- p_sent: {sid, status, to, from, segments, body, template_key, table_booking_id, customer_id,
-- outbox (bool)}
create or replace function public.table_booking_sms_sent(
  p_job_id uuid, p_token uuid, p_unique_key text, p_sent jsonb
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_message uuid;
  v_outbox boolean := coalesce((p_sent ->> 'outbox')::boolean, false);
begin
  insert into public.messages (
    customer_id, direction, message_sid, twilio_message_sid, body, status, twilio_status,
    from_number, to_number, message_type, segments, sent_at, table_booking_id, template_key,
    metadata, created_at, updated_at)
  values (
    (p_sent ->> 'customer_id')::uuid, 'outbound', p_sent ->> 'sid',
    case when v_outbox then null else p_sent ->> 'sid' end, p_sent ->> 'body',
    case when v_outbox then 'outbox' else 'queued' end,
    case when v_outbox then null else p_sent ->> 'status' end, p_sent ->> 'from', p_sent ->> 'to',
    'sms', greatest(coalesce((p_sent ->> 'segments')::int, 1), 1), now(),
    (p_sent ->> 'table_booking_id')::uuid, p_sent ->> 'template_key',
    jsonb_build_object('template_key', p_sent ->> 'template_key',
                       'table_booking_id', p_sent ->> 'table_booking_id',
                       'encoding', p_sent ->> 'encoding', 'unique_key', p_unique_key),
    now(), now())
  returning id into v_message;
  if v_outbox then
    insert into public.table_booking_outbox (channel, recipient, body, table_booking_id,
                                             template_key, job_id)
    values ('sms', p_sent ->> 'to', p_sent ->> 'body', (p_sent ->> 'table_booking_id')::uuid,
            p_sent ->> 'template_key', p_job_id);
  end if;
  update public.idempotency_keys
     set response = jsonb_build_object('state', 'sent', 'message_id', v_message,
                                       'sid', p_sent ->> 'sid')
   where key = 'sms:' || p_unique_key;
  perform public.table_booking_job_done(p_job_id, p_token,
                                        jsonb_build_object('message_id', v_message,
                                                           'sid', p_sent ->> 'sid',
                                                           'outbox', v_outbox));
  perform public.tb_message_audit('message.sms_sent', p_sent, null);
end
$$;

-- The provider refused an SMS for good, or it cannot be sent: release nothing (never resend),
-- record it. Twilio 21610 (the guest texted STOP) opts the customer out.
create or replace function public.table_booking_sms_refused(
  p_job_id uuid, p_token uuid, p_unique_key text, p_customer_id uuid, p_error_code integer,
  p_error text, p_details jsonb
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
begin
  if p_error_code = 21610 then
    update public.customers set sms_opt_in = false, sms_status = 'opted_out',
      sms_opted_out_at = now(), sms_deactivation_reason = 'Twilio 21610: recipient texted STOP'
    where id = p_customer_id;
  elsif p_error_code in (21211, 21614, 21217) then
    update public.customers set sms_opt_in = false, messaging_status = 'invalid_number',
      sms_deactivated_at = now(), sms_deactivation_reason = 'Invalid phone number'
    where id = p_customer_id;
  end if;
  update public.idempotency_keys
     set response = jsonb_build_object('state', 'refused', 'error_code', p_error_code)
   where key = 'sms:' || p_unique_key;
  perform public.table_booking_job_failed(p_job_id, p_token, p_error, false);
  perform public.tb_message_audit('message.sms_failed', p_details, p_error);
end
$$;

-- A retryable failure: the text was not sent, so its claim is released for the next attempt.
create or replace function public.table_booking_sms_retry(
  p_job_id uuid, p_token uuid, p_unique_key text, p_error text, p_details jsonb
) returns text
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_outcome text;
begin
  delete from public.idempotency_keys where key = 'sms:' || p_unique_key;
  v_outcome := public.table_booking_job_failed(p_job_id, p_token, p_error, true);
  perform public.tb_message_audit('message.sms_failed', p_details || jsonb_build_object(
    'outcome', v_outcome), p_error);
  return v_outcome;
end
$$;

-- Emails: recorded in the outbox when no mail provider is configured; audited either way.
create or replace function public.table_booking_email_sent(
  p_job_id uuid, p_token uuid, p_email jsonb
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
begin
  if coalesce((p_email ->> 'outbox')::boolean, false) then
    insert into public.table_booking_outbox (channel, recipient, subject, body, attachments,
                                             table_booking_id, template_key, job_id)
    values ('email', p_email ->> 'to', p_email ->> 'subject', p_email ->> 'text',
            coalesce(p_email -> 'attachments', '[]'::jsonb),
            (p_email ->> 'table_booking_id')::uuid, p_email ->> 'template_key', p_job_id);
  end if;
  perform public.table_booking_job_done(p_job_id, p_token, jsonb_build_object(
    'sent', true, 'outbox', coalesce((p_email ->> 'outbox')::boolean, false)));
  perform public.tb_message_audit('message.email_sent', p_email - 'text' - 'attachments', null);
end
$$;

create or replace function public.tb_message_audit(p_operation text, p_details jsonb, p_error text)
returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  insert into public.audit_logs (operation_type, resource_type, resource_id, operation_status,
                                 new_values, error_message, additional_info)
  values (p_operation, 'table_booking', p_details ->> 'table_booking_id',
          case when p_error is null then 'success' else 'failure' end,
          -- Who and what, never the recipient's number or address.
          jsonb_strip_nulls(jsonb_build_object(
            'template_key', p_details ->> 'template_key', 'channel', p_details ->> 'channel',
            'sid', p_details ->> 'sid', 'outbox', p_details -> 'outbox',
            'segments', p_details -> 'segments', 'outcome', p_details ->> 'outcome',
            'error_code', p_details -> 'error_code')),
          left(p_error, 500),
          jsonb_build_object('job', p_details ->> 'job_id'))
$$;

-- Twilio status callbacks: status only moves forward; every callback is kept ---------------------
create or replace function public.tb_twilio_status_rank(p_status text) returns integer
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case p_status
    when 'accepted' then 1 when 'scheduled' then 1 when 'queued' then 1
    when 'sending' then 2 when 'sent' then 3
    when 'delivered' then 4 when 'undelivered' then 4 when 'failed' then 4 when 'canceled' then 4
    when 'read' then 5 else 0 end
$$;

create or replace function public.twilio_message_status(
  p_sid text, p_status text, p_error_code text, p_error_message text, p_raw jsonb
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  m public.messages;
  v_app_status text := case
    when p_status in ('accepted', 'queued', 'scheduled') then 'queued'
    when p_status in ('sending', 'sent') then 'sent'
    when p_status = 'delivered' then 'delivered'
    when p_status in ('undelivered', 'failed', 'canceled') then 'failed'
    when p_status = 'read' then 'read'
    else p_status end;
  v_moved boolean := false;
begin
  select * into m from public.messages where twilio_message_sid = p_sid or message_sid = p_sid
   order by created_at limit 1 for update;
  if not found then
    return json_build_object('known', false);
  end if;
  insert into public.message_delivery_status (message_id, status, error_code, error_message,
                                              raw_webhook_data)
  values (m.id, p_status, p_error_code, p_error_message, p_raw);
  if public.tb_twilio_status_rank(p_status) > public.tb_twilio_status_rank(m.twilio_status) then
    update public.messages set
      twilio_status = p_status, status = v_app_status,
      error_code = coalesce(p_error_code, error_code),
      error_message = coalesce(p_error_message, error_message),
      delivered_at = case when p_status = 'delivered' then now() else delivered_at end,
      failed_at = case when v_app_status = 'failed' then now() else failed_at end,
      updated_at = now()
    where id = m.id;
    v_moved := true;
  end if;
  return json_build_object('known', true, 'moved', v_moved, 'message_id', m.id);
end
$$;

-- Inbound texts: STOP and the like opt out, START opts back in; the text is kept ---------------
create or replace function public.twilio_inbound_message(
  p_sid text, p_from text, p_to text, p_body text, p_action text,
  p_from_variants text[] default null
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  c public.customers;
begin
  -- The sender by E.164, else by the legacy forms older customers were stored in.
  select * into c from public.customers
   where mobile_e164 = p_from or mobile_number = p_from
      or mobile_number = any (coalesce(p_from_variants, '{}'))
   order by (mobile_e164 = p_from) desc nulls last, created_at limit 1;
  if not found then
    return json_build_object('known', false);
  end if;
  if p_action in ('opt_out', 'opt_in')
     and to_regprocedure('public.record_customer_consent(uuid, text, text, text, text, text, '
                         'text, text, text, uuid, text, text, text, text, text, jsonb, boolean)')
         is not null then
    -- The pub's consent ledger, which also keeps the customers summary, where it exists.
    perform public.record_customer_consent(
      p_customer_id => c.id, p_channel => 'sms', p_purpose => 'service',
      p_status => case when p_action = 'opt_in' then 'opted_in' else 'opted_out' end,
      p_legal_basis => 'consent', p_source => 'twilio_inbound_sms',
      p_capture_method => 'inbound_keyword', p_related_entity_type => 'message',
      p_related_entity_id => p_sid,
      p_metadata => jsonb_build_object('service', 'anchor-table-bookings', 'body', left(p_body, 50)));
  elsif p_action = 'opt_out' then
    update public.customers set sms_opt_in = false, sms_status = 'opted_out',
      sms_opted_out_at = now() where id = c.id;
  elsif p_action = 'opt_in' then
    update public.customers set sms_opt_in = true, sms_status = 'active',
      sms_opt_in_at = now(), sms_opt_in_source = 'sms_keyword' where id = c.id;
  end if;
  -- Twilio retries a webhook it did not hear back from: keep each text once.
  insert into public.messages (customer_id, direction, message_sid, twilio_message_sid, body,
                               status, twilio_status, from_number, to_number, message_type,
                               created_at, updated_at)
  select c.id, 'inbound', p_sid, p_sid, p_body, 'received', 'received', p_from, p_to, 'sms',
         now(), now()
  where not exists (select 1 from public.messages
                    where direction = 'inbound' and message_sid = p_sid);
  return json_build_object('known', true, 'customer_id', c.id, 'action', p_action);
end
$$;

-- Webhook deliveries, logged with allow-listed headers and a truncated body.
create or replace function public.webhook_log(
  p_type text, p_status text, p_headers jsonb, p_body text, p_params jsonb, p_error text,
  p_message_sid text default null
) returns void
language sql volatile security definer set search_path = public, pg_temp as $$
  insert into public.webhook_logs (webhook_type, status, headers, body, params, error_message,
                                   message_sid)
  values (p_type, p_status, p_headers, left(p_body, 10000), p_params, left(p_error, 500),
          p_message_sid)
$$;

create or replace function public.table_booking_outbox_read(
  p_reference text default null, p_limit integer default 20
) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(json_agg(json_build_object(
           'channel', m.channel, 'recipient', m.recipient, 'subject', m.subject,
           'body', m.body, 'attachments', m.attachments, 'template_key', m.template_key,
           'booking_reference', m.booking_reference, 'created_at', m.created_at)
         order by m.created_at, m.id), '[]'::json)
  from (
    select o.id, o.channel, o.recipient, o.subject, o.body, o.template_key, o.created_at,
           b.booking_reference,
           case when jsonb_typeof(j.payload -> 'attachments') = 'array'
                then j.payload -> 'attachments' else o.attachments end as attachments
    from public.table_booking_outbox o
    left join public.table_bookings b on b.id = o.table_booking_id
    left join public.jobs j on j.id = o.job_id and o.channel = 'email'
    where p_reference is null or b.booking_reference = upper(trim(p_reference))
    order by o.created_at desc, o.id desc
    limit greatest(coalesce(p_limit, 20), 1)
  ) m
$$;

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
        and j.type in ('table_booking_sms', 'table_booking_email')
        and j.payload #>> '{metadata,template_key}' like 'booking\_confirmation\_%'
      returning j.type)
    select coalesce(json_agg(distinct replace(type, 'table_booking_', '')), '[]'::json)
      into v_channels
    from gone;
  else
    select coalesce(json_agg(distinct replace(j.type, 'table_booking_', '')), '[]'::json)
      into v_channels
    from public.table_booking_message_ledger l
    join public.jobs j on j.id = l.job_id
    where l.table_booking_id = p_booking_id and j.status = 'pending'
      and j.type in ('table_booking_sms', 'table_booking_email')
      and j.payload #>> '{metadata,template_key}' like 'booking\_confirmation\_%';
  end if;
  return v_channels;
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.tb_queue_job_once',
  'public.tb_queue_notification',
  'public.table_booking_queue_reminders',
  'public.table_booking_queue_reviews',
  'public.table_booking_sunday_prep',
  'public.table_booking_prep_list',
  'public.table_booking_reminder_sent',
  'public.table_booking_message_context',
  'public.table_booking_queue_sends',
  'public.table_booking_claim_jobs',
  'public.table_booking_job_done',
  'public.table_booking_job_failed',
  'public.table_booking_job_defer',
  'public.table_booking_sms_begin',
  'public.table_booking_sms_sent',
  'public.table_booking_sms_refused',
  'public.table_booking_sms_retry',
  'public.table_booking_email_sent',
  'public.tb_message_audit',
  'public.tb_twilio_status_rank',
  'public.twilio_message_status',
  'public.twilio_inbound_message',
  'public.webhook_log',
  'public.table_booking_outbox_read',
  'public.table_booking_supersede_confirmations'
]);
