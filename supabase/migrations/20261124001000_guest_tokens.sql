-- Guest links of the 2026 contract (pub-api-2026.md section 11): one token per booking and
-- action (`payment`, `manage`, `booking_confirm`), kept where the pub keeps them, in its
-- guest_tokens table: only the SHA-256 hex of the token is stored, with its expiry and the
-- moment it was used up. The raw token is made by the service and shown to the guest once.
--
-- On a fresh database guest_tokens is a stand-in with the pub's columns, checks and indexes;
-- on the pub's database it is the pub's own table, used as the pub's app uses it.

insert into table_booking_service.stand_ins (relation)
select 'guest_tokens' where to_regclass('public.guest_tokens') is null
on conflict do nothing;

create table if not exists public.guest_tokens (
  id                 uuid primary key default gen_random_uuid(),
  hashed_token       text not null unique,
  customer_id        uuid not null references public.customers (id) on delete cascade,
  event_booking_id   uuid,
  table_booking_id   uuid references public.table_bookings (id) on delete cascade,
  charge_request_id  uuid,
  action_type        text not null,
  expires_at         timestamptz not null,
  consumed_at        timestamptz,
  created_at         timestamptz not null default now(),
  waitlist_offer_id  uuid,
  private_booking_id uuid,
  constraint guest_tokens_action_type_check check (action_type in (
    'manage', 'sunday_preorder', 'card_capture', 'payment', 'review_redirect',
    'charge_approval', 'waitlist_offer', 'private_feedback', 'private_booking_outcome',
    'booking_confirm', 'email_capture'))
);

select table_booking_service.for_stand_in('guest_tokens', $ix$create index if not exists idx_guest_tokens_customer_action
  on public.guest_tokens (customer_id, action_type, expires_at desc)$ix$);
select table_booking_service.for_stand_in('guest_tokens', $ix$create index if not exists idx_guest_tokens_expiry
  on public.guest_tokens (expires_at)$ix$);
select table_booking_service.for_stand_in('guest_tokens', $ix$alter table public.guest_tokens enable row level security$ix$);
select table_booking_service.for_stand_in('guest_tokens', $ix$grant all on table public.guest_tokens to service_role$ix$);

set local check_function_bodies = off;

-- A new link for a booking's guest: the hash of the token the service made, for one action,
-- until p_expires_at. Returns the token's row id; raises NOT_FOUND for an unknown booking.
create or replace function public.tb_guest_token_issue(
  p_booking_id uuid, p_action text, p_token_hash text, p_expires_at timestamptz
) returns uuid
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_customer uuid;
  v_id uuid;
begin
  select customer_id into v_customer from public.table_bookings where id = p_booking_id;
  if v_customer is null then
    raise exception using errcode = 'P0001', message = 'NOT_FOUND';
  end if;
  insert into public.guest_tokens (hashed_token, customer_id, table_booking_id, action_type,
                                   expires_at)
  values (p_token_hash, v_customer, p_booking_id, p_action, p_expires_at)
  returning id into v_id;
  return v_id;
end
$$;

-- What a presented link opens: {"state": "ok", "token_id", "booking_id", "expires_at"} or
-- {"state": <reason>} with the pub's reasons: invalid_token (unknown for that action),
-- token_used, token_expired, booking_not_found, token_customer_mismatch.
create or replace function public.tb_guest_token_open(
  p_token_hash text, p_action text, p_now timestamptz
) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(
    (select json_build_object(
       'state', case
         when g.consumed_at is not null then 'token_used'
         when g.expires_at <= p_now then 'token_expired'
         when b.id is null then 'booking_not_found'
         when b.customer_id is distinct from g.customer_id then 'token_customer_mismatch'
         else 'ok' end,
       'token_id', g.id, 'booking_id', b.id, 'expires_at', g.expires_at)
     from public.guest_tokens g
     left join public.table_bookings b on b.id = g.table_booking_id
     where g.hashed_token = p_token_hash and g.action_type = p_action),
    json_build_object('state', 'invalid_token'))
$$;

-- Uses a link up (once): true when this call used it, false when it was already used.
create or replace function public.tb_guest_token_consume(p_token_id uuid, p_now timestamptz)
returns boolean
language sql volatile security definer set search_path = public, pg_temp as $$
  with used as (
    update public.guest_tokens set consumed_at = p_now
    where id = p_token_id and consumed_at is null
    returning 1)
  select exists (select 1 from used)
$$;

select table_booking_service.service_role_only(array[
  'public.tb_guest_token_issue', 'public.tb_guest_token_open', 'public.tb_guest_token_consume'
]);
