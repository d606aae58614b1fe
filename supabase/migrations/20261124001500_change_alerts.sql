-- What happens to a booking queues its messages and refunds, inside the same transaction: made
-- (confirmed or awaiting its deposit), confirmed by payment, changed, cancelled. Every function of
-- this service that writes a booking calls this with the row before and after (before is null for
-- a new booking); there is no trigger on the pub's table_bookings, so the pub app's own writes
-- never queue this service's messages or refunds. Only bookings made by this service (they carry
-- a manage token) message guests.
--
-- A change to what the kitchen and the floor need to know is announced like a change of date,
-- time or party size: a guest who adds an allergy, or changes their special requirements,
-- dietary needs or celebration, gets the "booking changed" message and the staff get the alert
-- (with ALLERGIES in its subject when there are any).
create or replace function public.tb_booking_written(
  p_old public.table_bookings,
  p_new public.table_bookings
) returns void
language plpgsql volatile security definer set search_path = public, pg_temp as $$
begin
  if p_new.manage_token_hash is not null then
    if p_old.id is null then
      perform public.tb_queue_notification(p_new.id, 'created');
    elsif p_new.status is distinct from p_old.status then
      if p_new.status = 'confirmed' and p_old.status = 'pending_payment' then
        perform public.tb_queue_notification(p_new.id, 'confirmed');
      elsif p_new.status = 'cancelled' then
        perform public.tb_queue_notification(p_new.id, 'cancelled');
      end if;
    elsif p_new.status in ('confirmed', 'pending_payment')
          and ((p_new.booking_date, p_new.booking_time, p_new.party_size)
                 is distinct from (p_old.booking_date, p_old.booking_time, p_old.party_size)
               or (p_new.special_requirements, p_new.dietary_requirements, p_new.allergies,
                   p_new.celebration_type)
                 is distinct from (p_old.special_requirements, p_old.dietary_requirements,
                                   p_old.allergies, p_old.celebration_type)) then
      perform public.tb_queue_notification(p_new.id, 'updated',
                                           coalesce(p_new.modification_count, 0)::text
                                           || ':' || to_char(p_new.updated_at, 'YYYYMMDDHH24MISSUS'));
    end if;
  end if;
  -- A paid booking that is cancelled gets its refund queued (the amount the cancel computed).
  if p_old.id is not null and p_new.status = 'cancelled'
     and p_old.status is distinct from 'cancelled'
     and p_new.payment_status in ('completed', 'partial_refund')
     and p_new.paypal_deposit_capture_id is not null then
    perform public.tb_queue_refund(
      p_new.id, p_new.paypal_deposit_capture_id,
      (select (p.payment_metadata ->> 'refund_due')::numeric
         from public.table_booking_payments p
        where p.booking_id = p_new.id and p.status in ('completed', 'partial_refund')
        order by p.created_at desc limit 1),
      'cancellation', 'Refund for your cancelled table booking at The Anchor.');
  end if;
end
$$;

revoke execute on function public.tb_booking_written(public.table_bookings, public.table_bookings)
  from public, anon, authenticated;
