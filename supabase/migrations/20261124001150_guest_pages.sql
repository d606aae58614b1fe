-- The guest pages (pub-api-2026.md section 11): what a guest link opens, counted per link.
--
-- The service opens a link (tb_guest_page) with its clock, then acts for the guest with
-- 'link:' || the link's hash as the guest's token: tb_booking_by_reference admits it for the
-- link's own booking while the link is a manage (or booking_confirm) link not used up. A
-- booking's own manage token (the 2025 contract's) is a bare hash, so it never passes for a
-- link, and a link never reaches the 2025 routes, which hash whatever token they are sent.

set local check_function_bodies = off;

-- Whether p_token_hash ('link:<sha256 hex>') is a live manage or booking_confirm link of the
-- booking. Its expiry was checked by the service against its own clock when it opened it.
create or replace function public.tb_guest_link_holds(p_booking_id uuid, p_token_hash text)
returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select p_token_hash like 'link:%' and exists (
    select 1 from public.guest_tokens g
    where g.hashed_token = substr(p_token_hash, 6)
      and g.table_booking_id = p_booking_id
      and g.action_type in ('manage', 'booking_confirm')
      and g.consumed_at is null)
$$;

-- A guest page's one read: the link opened for p_action at p_now, counted against its own
-- limit first (p_limit a window of p_window_seconds, known link or not), and what the page
-- shows: {"state": "ok", token_id, expires_at, booking (table_booking_detail, the guest's view;
-- manage and booking_confirm links), payment {...}} or {"state": <reason>} (rate_limited with
-- retry_at, or a reason of tb_guest_token_open). The deposit due is tb_canonical_deposit's (10.4).
create or replace function public.tb_guest_page(
  p_token_hash text, p_action text, p_now timestamptz, p_limit integer, p_window_seconds integer
) returns json
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_rate record;
  v_open json;
  b public.table_bookings;
begin
  select * into v_rate from public.tb_rate_hit('guest_link:' || p_token_hash, p_limit,
                                               p_window_seconds, p_now);
  if not v_rate.allowed then
    return json_build_object('state', 'rate_limited', 'retry_at', v_rate.reset_at);
  end if;
  v_open := public.tb_guest_token_open(p_token_hash, p_action, p_now);
  if v_open ->> 'state' <> 'ok' then
    return json_build_object('state', v_open ->> 'state');
  end if;
  select * into b from public.table_bookings where id = (v_open ->> 'booking_id')::uuid;
  return json_build_object(
    'state', 'ok',
    'token_id', v_open -> 'token_id',
    'expires_at', v_open -> 'expires_at',
    'booking_id', b.id,
    'booking', case when p_action in ('manage', 'booking_confirm')
                    then public.table_booking_detail(b.booking_reference, 'link:' || p_token_hash,
                                                     p_now) end,
    'payment', json_build_object(
      'booking_reference', b.booking_reference,
      'status', b.status,
      'payment_status', b.payment_status,
      'party_size', b.party_size,
      'date', to_char(b.booking_date, 'YYYY-MM-DD'),
      'time', to_char(b.booking_time, 'HH24:MI'),
      'starts_at', public.tb_london_iso(b.start_datetime),
      'captured', b.paypal_deposit_capture_id is not null,
      'hold_expires_at', public.tb_london_iso(b.hold_expires_at),
      'deposit_due', public.tb_money(public.tb_canonical_deposit(b))));
end
$$;

select table_booking_service.service_role_only(array[
  'public.tb_guest_link_holds', 'public.tb_guest_page'
]);
