-- The 2026 website contract (pub-api-2026.md sections 5-7, 10): POST /management/api/table-bookings
-- and the two PayPal routes, over our one booking engine (table_booking_create) and our one
-- capture rule (table_booking_payment_captured). What is here is only what those routes need on
-- top: the facts a PayPal route decides on, and the create's 2026 idempotency (blocked answers
-- kept and replayed), its consent rows and its answer.

-- "Deposit sorted": the text a guest of the pub's website gets once the deposit is captured
-- (section 7 step 5), added where the project has no template of that key.
insert into public.table_booking_sms_templates (template_key, booking_type, template_text, variables)
values
  ('booking_confirmation_deposit_sorted', 'regular',
   'Hi {{customer_name}}, Deposit sorted - your table for {{party_size}} people on {{date}} at '
   '{{time}} is locked in. See you then! Ref: {{reference}}. Reply STOP to opt out.',
   '{customer_name,party_size,date,time,reference}')
on conflict (template_key) do nothing;

-- Pre-orders of the website's create (section 5.4 step 4): one seat per guest and its dishes, in
-- the pub's booking_preorder_covers and booking_preorder_selections; stand-ins in the pub's shape
-- where they are missing.
insert into table_booking_service.stand_ins (relation)
select t from unnest(array['booking_preorder_covers', 'booking_preorder_selections']) t
where to_regclass('public.' || t) is null
on conflict do nothing;

create table if not exists public.booking_preorder_covers (
  id uuid not null default gen_random_uuid(),
  table_booking_id uuid not null,
  ordinal integer not null,
  guest_name text,
  dietary_note text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint booking_preorder_covers_pkey primary key (id),
  constraint booking_preorder_covers_table_booking_id_ordinal_key
    unique (table_booking_id, ordinal),
  constraint booking_preorder_covers_table_booking_id_fkey foreign key (table_booking_id)
    references public.table_bookings (id) on delete cascade,
  constraint booking_preorder_covers_dietary_note_check
    check (dietary_note is null or length(dietary_note) <= 200),
  constraint booking_preorder_covers_guest_name_check
    check (guest_name is null or length(guest_name) <= 100),
  constraint booking_preorder_covers_ordinal_check check (ordinal >= 1)
);

create table if not exists public.booking_preorder_selections (
  id uuid not null default gen_random_uuid(),
  cover_id uuid not null,
  course text not null,
  menu_item_id uuid not null,
  item_name text not null,
  price_gbp numeric(10, 2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint booking_preorder_selections_pkey primary key (id),
  constraint booking_preorder_selections_cover_id_fkey foreign key (cover_id)
    references public.booking_preorder_covers (id) on delete cascade,
  constraint booking_preorder_selections_menu_item_id_fkey foreign key (menu_item_id)
    references public.booking_period_menu_items (id),
  constraint booking_preorder_selections_course_check
    check (course = any (array['starter', 'main', 'dessert', 'addon']))
);
select table_booking_service.for_stand_in('booking_preorder_selections', $ix$create unique index if not exists booking_preorder_selections_one_per_course_idx on public.booking_preorder_selections (cover_id, course) where course <> 'addon'$ix$);
select table_booking_service.for_stand_in('booking_preorder_selections', $ix$create unique index if not exists booking_preorder_selections_one_per_item_idx on public.booking_preorder_selections (cover_id, menu_item_id)$ix$);
do $$
declare
  t text;
begin
  foreach t in array array['booking_preorder_covers', 'booking_preorder_selections'] loop
    continue when t not in (select relation from table_booking_service.stand_ins);
    execute format('alter table public.%I enable row level security', t);
    execute format('grant select, insert, update, delete on table public.%I to service_role', t);
  end loop;
end
$$;

set local check_function_bodies = off;

-- The canonical deposit of a booking for payment (section 10.4): the locked amount; else the
-- stored deposit while one is due or paid; else the rule afresh (waived 0, GBP 10 a head for a
-- Christmas booking or a party of 15 or more, else 0).
create or replace function public.tb_canonical_deposit(b public.table_bookings) returns numeric
language sql stable set search_path = public, pg_temp as $$
  select round(coalesce(
    b.deposit_amount_locked,
    case when b.status::text = 'pending_payment'
              or b.payment_status::text in ('pending', 'completed')
         then b.deposit_amount end,
    case when coalesce(b.deposit_waived, false) then 0
         when b.booking_type::text = 'christmas' or b.party_size >= 15 then 10 * b.party_size
         else 0 end), 2)
$$;

-- What a PayPal route of the website decides on, for one booking (null when there is none).
-- The decisions and their words are the service's (app.services.deposit_orders).
create or replace function public.management_deposit_facts(p_booking_id uuid) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select json_build_object(
    'booking_id', b.id,
    'booking_reference', b.booking_reference,
    'status', b.status,
    'payment_status', b.payment_status,
    'party_size', b.party_size,
    'order_id', b.paypal_deposit_order_id,
    'capture_id', b.paypal_deposit_capture_id,
    'hold_expires_at', b.hold_expires_at,
    'amount', public.tb_money(public.tb_canonical_deposit(b)))
  from public.table_bookings b where b.id = p_booking_id
$$;

select table_booking_service.service_role_only(array[
  'public.tb_canonical_deposit',
  'public.management_deposit_facts'
]);

-- The create of the 2026 contract (section 5) ---------------------------------------------------

-- The pub's reason for a refusal of table_booking_create (its section 10.2 codes), or null when
-- the refusal is not a booking the rules turned away (bad input, a rate limit, an outage): those
-- are errors, not blocked answers. p_hint is the refusal's JSON details.
create or replace function public.tb_website_reason(p_code text, p_hint text) returns text
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
  v_reason text;
begin
  begin
    v_reason := p_hint::jsonb ->> 'reason';
  exception when others then
    v_reason := null;
  end;
  if p_code = 'NO_AVAILABILITY' then
    -- The floor's own codes (no_table, outside_full, slot_full, drinks_full); a venue without
    -- tables refuses by covers, which is the pub's no_table.
    return case when v_reason is null or v_reason = 'UNPAID_HOLDS' then 'no_table'
                else lower(v_reason) end;
  end if;
  if p_code = 'POLICY_VIOLATION' then
    return case v_reason
      when 'PARTY_TOO_LARGE' then 'too_large_party'
      when 'IN_PAST' then 'in_past'
      when 'TOO_SOON' then 'cut_off'
      when 'CUT_OFF' then 'cut_off'
      when 'CLOSED' then 'outside_hours'
      when 'KITCHEN_CLOSED' then 'outside_hours'
      when 'NOT_SUNDAY' then 'sunday_lunch_requires_sunday'
      when 'NOT_A_SLOT' then 'outside_service_window'
      when 'TOO_FAR' then 'too_far_ahead'
      else coalesce(lower(v_reason), 'blocked') end;
  end if;
  return null;
end
$$;

-- The public mapping of a reason (section 10.2's mapping function).
create or replace function public.tb_website_blocked_reason(p_reason text) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select case
    when p_reason in ('too_large_party', 'no_table', 'private_booking_blocked', 'cut_off',
                      'customer_conflict', 'in_past', 'slot_full') then p_reason
    when p_reason in ('outside_hours', 'hours_not_configured', 'outside_service_window',
                      'sunday_lunch_requires_sunday') then 'outside_hours'
    else 'blocked' end
$$;

-- The guest's choices of communication_consent, each true flag recorded where the pub keeps
-- consent: its ledger (record_customer_consent, which keeps the customers summary) where it
-- exists, else the customers summary columns. The SMS service consent is the booking's own
-- (tb_record_sms_consent, as for every create).
create or replace function public.tb_record_website_consent(
  p_customer_id uuid, p_consent jsonb, p_booking_id uuid
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  f record;
  v_ledger boolean := to_regprocedure(
    'public.record_customer_consent(uuid, text, text, text, text, text, text, text, text, uuid, '
    'text, text, text, text, text, jsonb, boolean)') is not null;
  v_version text := coalesce(nullif(p_consent ->> 'consent_text_version', ''),
                             'guest-comms-consent-v5');
begin
  for f in
    select * from (values ('marketing_email_opt_in', 'email', 'marketing'),
                          ('marketing_sms_opt_in', 'sms', 'marketing'),
                          ('whatsapp_opt_in', 'whatsapp', 'service'),
                          ('marketing_whatsapp_opt_in', 'whatsapp', 'marketing'))
           as v(flag, channel, purpose)
    where coalesce(p_consent ->> v.flag, '') = 'true'
  loop
    if v_ledger then
      perform public.record_customer_consent(
        p_customer_id => p_customer_id, p_channel => f.channel, p_purpose => f.purpose,
        p_status => 'opted_in', p_legal_basis => 'consent', p_source => 'public_table_booking',
        p_capture_method => 'checkbox', p_consent_text_version => v_version,
        p_related_entity_type => 'table_booking', p_related_entity_id => p_booking_id::text,
        p_metadata => jsonb_build_object('service', 'anchor-table-bookings',
                                         'flag', f.flag));
    elsif f.flag = 'marketing_email_opt_in' then
      update public.customers set marketing_email_opt_in = true,
        marketing_email_opt_in_at = now() where id = p_customer_id;
    elsif f.flag = 'marketing_sms_opt_in' then
      update public.customers set marketing_sms_opt_in = true,
        marketing_sms_opt_in_at = now() where id = p_customer_id;
    elsif f.flag = 'whatsapp_opt_in' then
      update public.customers set whatsapp_opt_in = true where id = p_customer_id;
    else
      update public.customers set marketing_whatsapp_opt_in = true where id = p_customer_id;
    end if;
  end loop;
end
$$;

-- The website's pre-order for a booking just made (section 5.4 step 4): more entries than guests
-- saves nothing; else a seat per guest (ordinal 1..party) and entry i on seat i, its three courses
-- and add-ons, each dish an active item of the booking's own period with that course.
-- {requested_covers, saved_covers, saved, error}.
create or replace function public.tb_website_preorder(p_booking_id uuid, p_seats jsonb)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  b public.table_bookings;
  v_requested integer := jsonb_array_length(p_seats);
  v_bad boolean;
begin
  select * into b from public.table_bookings where id = p_booking_id;
  if v_requested > b.party_size then
    return jsonb_build_object('requested_covers', v_requested, 'saved_covers', 0,
                              'saved', false, 'error', 'too_many_covers');
  end if;
  with wanted as (
    select d.course, d.item_id
    from jsonb_array_elements(p_seats) seat,
         lateral (select 'starter' as course, seat ->> 'starter_menu_item_id' as item_id
                  union all select 'main', seat ->> 'main_menu_item_id'
                  union all select 'dessert', seat ->> 'dessert_menu_item_id'
                  union all select 'addon', a
                  from jsonb_array_elements_text(coalesce(seat -> 'addon_menu_item_ids',
                                                          '[]'::jsonb)) a) d
    where d.item_id is not null)
  select exists (
    select 1 from wanted w
    where not exists (select 1 from public.booking_period_menu_items m
                      where m.id = w.item_id::uuid and m.period_id = b.booking_period_id
                        and m.is_active and m.course = w.course))
    into v_bad;
  if b.booking_period_id is null or v_bad then
    return jsonb_build_object('requested_covers', v_requested, 'saved_covers', 0,
                              'saved', false, 'error', 'invalid_menu_item');
  end if;
  insert into public.booking_preorder_covers (table_booking_id, ordinal, guest_name, dietary_note)
  select b.id, g, nullif(p_seats -> (g - 1) ->> 'guest_name', ''),
         nullif(p_seats -> (g - 1) ->> 'dietary_note', '')
  from generate_series(1, b.party_size) g
  on conflict (table_booking_id, ordinal) do update
    set guest_name = excluded.guest_name, dietary_note = excluded.dietary_note;
  insert into public.booking_preorder_selections (cover_id, course, menu_item_id, item_name,
                                                  price_gbp)
  select c.id, m.course, m.id, m.name, m.price_gbp
  from jsonb_array_elements(p_seats) with ordinality as seat(value, ordinal)
  join public.booking_preorder_covers c
    on c.table_booking_id = b.id and c.ordinal = seat.ordinal
  join public.booking_period_menu_items m
    on m.id in (select (seat.value ->> k)::uuid
                from unnest(array['starter_menu_item_id', 'main_menu_item_id',
                                  'dessert_menu_item_id']) k
                union
                select a::uuid
                from jsonb_array_elements_text(coalesce(seat.value -> 'addon_menu_item_ids',
                                                        '[]'::jsonb)) a);
  return jsonb_build_object('requested_covers', v_requested, 'saved_covers', v_requested,
                            'saved', true, 'error', null);
end
$$;

-- The answer of section 5.6 for a refusal: every field null but state, reason, blocked_reason.
create or replace function public.tb_website_blocked(p_reason text) returns jsonb
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select jsonb_build_object(
    'success', true,
    'data', jsonb_build_object(
      'state', 'blocked', 'table_booking_id', null, 'booking_reference', null,
      'reason', p_reason, 'blocked_reason', public.tb_website_blocked_reason(p_reason),
      'next_step_url', null, 'hold_expires_at', null, 'table_name', null, 'booking_id', null,
      'deposit_amount', null, 'fallback_payment_url', null, 'notification_channel', null,
      'high_chairs_granted', null, 'is_outside_seating', null, 'preorder', null),
    'meta', jsonb_build_object('status_code', 200, 'sms', null))
$$;

-- A stored answer under an Idempotency-Key, as a create or the replay-only probe finds it:
-- {outcome: conflict | in_progress | replay, response} or null when there is none (or it expired).
-- A claim left processing for 10 minutes is not in progress any more (the caller may reclaim it).
create or replace function public.tb_website_stored(
  k public.idempotency_keys, p_request_hash text, p_now timestamptz
) returns jsonb
language plpgsql stable set search_path = public, pg_temp as $$
begin
  if k.key is null or k.expires_at <= p_now then
    return null;
  end if;
  if k.request_hash is distinct from p_request_hash then
    return jsonb_build_object('outcome', 'conflict');
  end if;
  if k.response ->> 'state' = 'processing' then
    if coalesce((k.response ->> 'claimed_at')::timestamptz, p_now) > p_now - interval '10 minutes'
    then
      return jsonb_build_object('outcome', 'in_progress');
    end if;
    return null;
  end if;
  return jsonb_build_object('outcome', 'replay', 'response', k.response);
end
$$;

-- The replay-only probe ([newer]): the stored answer under the key, never a claim, nothing written.
-- {outcome: not_found | conflict | in_progress | replay, response}.
create or replace function public.management_booking_replay(
  p_key text, p_request_hash text, p_now timestamptz
) returns jsonb
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(public.tb_website_stored(k, p_request_hash, p_now),
                  '{"outcome": "not_found"}'::jsonb)
  from (select (select i from public.idempotency_keys i where i.key = p_key) as k) s
$$;

-- The create: the claim under the caller's Idempotency-Key (global, as the pub's), then our one
-- engine (table_booking_create), then the payment link's token, the consent rows and the answer
-- of section 5.6, stored under the key, all in one transaction. A refusal of the rules is a
-- blocked answer, stored and replayed like any other; any other failure rolls everything back,
-- the claim included, so the same key can be sent again.
-- p_request: {idempotency: {key, request_hash}, create: <table_booking_create's p_request>,
--   consent: <communication_consent>, payment_token_hash, payment_token_sealed}.
-- Returns {outcome: created | blocked | replay | conflict | in_progress, response}.
create or replace function public.management_booking_create(p_request jsonb, p_now timestamptz)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_key text := p_request #>> '{idempotency,key}';
  v_hash text := p_request #>> '{idempotency,request_hash}';
  v_claimed text;
  v_stored jsonb;
  v_made jsonb;
  v_code text;
  v_hint text;
  v_reason text;
  b public.table_bookings;
  c public.customers;
  v_pending boolean;
  v_skip boolean := coalesce((p_request #>> '{create,skip_customer_sms}')::boolean, false);
  v_response jsonb;
  v_preorder jsonb;
begin
  insert into public.idempotency_keys as i (key, request_hash, response, expires_at)
  values (v_key, v_hash, jsonb_build_object('state', 'processing', 'claimed_at', p_now),
          p_now + interval '24 hours')
  on conflict (key) do update
    set request_hash = excluded.request_hash, response = excluded.response,
        created_at = now(), expires_at = excluded.expires_at
    where i.expires_at <= p_now
       or (i.request_hash = excluded.request_hash and i.response ->> 'state' = 'processing'
           and coalesce((i.response ->> 'claimed_at')::timestamptz, p_now)
               <= p_now - interval '10 minutes')
  returning key into v_claimed;
  if v_claimed is null then
    v_stored := public.tb_website_stored(
      (select i from public.idempotency_keys i where i.key = v_key), v_hash, p_now);
    return coalesce(v_stored, '{"outcome": "in_progress"}'::jsonb);
  end if;

  begin
    v_made := public.table_booking_create(p_request -> 'create', p_now);
  exception when sqlstate 'P0001' then
    get stacked diagnostics v_code = message_text, v_hint = pg_exception_hint;
    v_reason := public.tb_website_reason(v_code, v_hint);
    if v_reason is null then
      raise;  -- not a refusal of the rules: nothing is kept, the claim neither
    end if;
    v_response := public.tb_website_blocked(v_reason);
    update public.idempotency_keys set response = v_response where key = v_key;
    return jsonb_build_object('outcome', 'blocked', 'response', v_response);
  end;

  select * into b from public.table_bookings where id = (v_made ->> 'booking_id')::uuid;
  select * into c from public.customers where id = b.customer_id;
  v_pending := b.status = 'pending_payment';
  if v_pending then
    perform public.tb_guest_token_issue(b.id, 'payment', p_request ->> 'payment_token_hash',
                                        b.hold_expires_at);
  end if;
  perform public.tb_record_website_consent(b.customer_id,
                                           coalesce(p_request -> 'consent', '{}'::jsonb), b.id);
  if jsonb_array_length(coalesce(p_request -> 'preorder', '[]'::jsonb)) > 0 then
    -- Never fails the booking: a pre-order that cannot be saved says so in its answer.
    begin
      v_preorder := public.tb_website_preorder(b.id, p_request -> 'preorder');
    exception when others then
      v_preorder := jsonb_build_object(
        'requested_covers', jsonb_array_length(p_request -> 'preorder'), 'saved_covers', 0,
        'saved', false, 'error', 'preorder_failed');
    end;
  end if;

  v_response := jsonb_build_object(
    'success', true,
    'data', jsonb_build_object(
      'state', b.status,
      'table_booking_id', b.id,
      'booking_reference', b.booking_reference,
      'reason', null,
      'blocked_reason', null,
      -- The link is made by the service from the token (never stored usable here).
      'next_step_url', null,
      'hold_expires_at', case when v_pending then to_jsonb(b.hold_expires_at) end,
      'table_name', case when b.is_outside_seating then null else v_made ->> 'table_name' end,
      'booking_id', case when v_pending then b.id end,
      'deposit_amount', case when v_pending
                             then round(public.tb_canonical_deposit(b), 2) end,
      'fallback_payment_url', null,
      -- The first channel the guest's message goes by: none at create for a deposit booking.
      'notification_channel', case
        when v_pending then null
        when c.email is not null and c.email <> '' then 'email'
        when c.sms_status is distinct from 'opted_out' and coalesce(c.sms_opt_in, false)
             and c.mobile_e164 is not null then 'sms' end,
      'high_chairs_granted', coalesce(b.high_chair_count, 0),
      'is_outside_seating', coalesce(b.is_outside_seating, false),
      'preorder', v_preorder),
    'meta', jsonb_build_object('status_code', 201, 'sms', null));
  update public.idempotency_keys
     set response = v_response || case when v_pending
                                       then jsonb_build_object('payment_token_sealed',
                                                               p_request ->> 'payment_token_sealed')
                                       else '{}'::jsonb end
   where key = v_key;
  return jsonb_build_object('outcome', 'created', 'response', v_response, 'skip', v_skip);
end
$$;

select table_booking_service.service_role_only(array[
  'public.tb_website_reason',
  'public.tb_website_blocked_reason',
  'public.tb_record_website_consent',
  'public.tb_website_preorder',
  'public.tb_website_blocked',
  'public.tb_website_stored',
  'public.management_booking_replay',
  'public.management_booking_create'
]);
