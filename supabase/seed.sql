-- Demo data for the embedded default: never applied to a real project.
--
-- Loaded once into a new embedded database (the service records that it did, in
-- system_settings.embedded_demo_data_loaded), so edits made afterwards are kept across restarts.
-- Each insert also skips rows that already exist, so running the file twice adds nothing.

-- Opening hours (0 = Sunday). The kitchen is closed on Mondays while the pub is open; Friday and
-- Saturday the pub closes after midnight.
insert into public.business_hours
  (day_of_week, opens, closes, kitchen_opens, kitchen_closes, is_closed, is_kitchen_closed)
select v.day_of_week, v.opens::time, v.closes::time, v.kitchen_opens::time,
       v.kitchen_closes::time, false, v.kitchen_opens is null
from (values
  (0, '12:00', '22:30', '12:00', '17:00'),
  (1, '16:00', '23:00', null,    null),
  (2, '12:00', '23:00', '12:00', '21:00'),
  (3, '12:00', '23:00', '12:00', '21:00'),
  (4, '12:00', '23:00', '12:00', '21:00'),
  (5, '12:00', '00:30', '12:00', '21:30'),
  (6, '12:00', '00:30', '12:00', '21:30')
) as v(day_of_week, opens, closes, kitchen_opens, kitchen_closes)
where not exists (select 1 from public.business_hours b where b.day_of_week = v.day_of_week);

-- Christmas Day the pub is closed.
insert into public.special_hours (date, is_closed, is_kitchen_closed, note)
values ('2026-12-25', true, true, 'Closed for Christmas Day')
on conflict (date) do nothing;

-- The Sunday lunch menu: mains priced, included sides at 0.00, one paid extra side.
insert into public.sunday_lunch_menu_items
  (name, description, price, category, is_active, display_order, allergens, dietary_info)
values
  ('Roasted Chicken', 'Half a free-range chicken with sage and onion stuffing', 14.99, 'main',
   true, 1, '{gluten,sulphites}', '{}'),
  ('Slow-Cooked Lamb Shank', 'Braised for six hours in red wine and rosemary', 15.49, 'main',
   true, 2, '{celery,sulphites}', '{}'),
  ('Crispy Pork Belly', 'With crackling and apple sauce', 15.99, 'main',
   true, 3, '{sulphites}', '{}'),
  ('Beetroot & Butternut Squash Wellington', 'In puff pastry with a vegetable gravy', 15.49, 'main',
   true, 4, '{gluten,celery}', '{vegetarian,vegan}'),
  ('Kids Roasted Chicken', 'A smaller roast for under-12s', 9.99, 'main',
   true, 5, '{gluten}', '{}'),
  ('Roast Potatoes', 'Crisp roast potatoes', 0.00, 'side', true, 10, '{}', '{vegetarian,vegan}'),
  ('Yorkshire Pudding', 'Baked to order', 0.00, 'side', true, 11, '{gluten,eggs,milk}',
   '{vegetarian}'),
  ('Seasonal Vegetables', 'Today''s vegetables', 0.00, 'side', true, 12, '{}',
   '{vegetarian,vegan}'),
  ('Cauliflower Cheese', 'An extra side to share', 3.99, 'side', true, 13, '{milk,mustard}',
   '{vegetarian}')
on conflict do nothing;

-- A restaurant of 50 covers.
insert into public.system_settings (key, value, description)
values ('restaurant_capacity', '{"max_capacity": 50}', 'Covers the restaurant can seat at once')
on conflict (key) do nothing;
