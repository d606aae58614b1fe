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
