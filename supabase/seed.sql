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

-- The pub's floor (/work/shared/reference/pub-engine-2026.md 1.1, 1.2 and 4), so the demo seats
-- by tables as the pub does: ten bookable tables (two more are not bookable), the Dining Room's
-- five tables all joinable with each other, Low 4a with Low 4b, and the standing walk-in holds on
-- Low 4a and High 4 (every day, all day, open-ended, from 2026-01-01, before any day the demo
-- books: online guests get them only within 24 hours of the sitting). One statement, added only
-- where the demo has no tables yet: the links and holds are made for the tables it adds. `area`
-- is display text (the allocator never reads it).
with floor as (
  insert into public.tables
    (table_number, name, capacity, priority, bar_priority, min_party_size, step_free,
     standard_height, high_chair_capable, is_bookable, area)
  select v.*
  from (values
    ('8',  'Dining Room 4a',   4, 10,  60,  1, true,  true,  true,  true,  'Dining Room'),
    ('9',  'Dining Room 4b',   4, 20,  70,  1, true,  true,  true,  true,  'Dining Room'),
    ('10', 'Dining Room 6a',   6, 30,  80,  4, true,  true,  true,  true,  'Dining Room'),
    ('11', 'Dining Room 6b',   6, 40,  90,  4, true,  true,  true,  true,  'Dining Room'),
    ('12', 'Dining Room 6c',   6, 50,  100, 4, true,  true,  true,  true,  'Dining Room'),
    ('3',  'Small Bay',        5, 60,  40,  1, false, true,  true,  true,  'Bar'),
    ('2',  'Big Bay',          6, 70,  50,  4, true,  true,  true,  true,  'Bar'),
    ('4',  'Low 4a',           4, 80,  10,  1, true,  true,  true,  true,  'Bar'),
    ('5',  'Low 4b',           4, 90,  20,  1, true,  true,  true,  true,  'Bar'),
    ('6',  'High 4',           4, 100, 30,  1, true,  false, false, true,  'Bar'),
    ('1',  'Electric Cupbard', 4, 999, 999, 1, true,  true,  true,  false, 'Bar'),
    ('7',  'High 2',           4, 999, 999, 1, true,  true,  true,  false, 'Bar')
  ) as v(table_number, name, capacity, priority, bar_priority, min_party_size, step_free,
         standard_height, high_chair_capable, is_bookable, area)
  where not exists (select 1 from public.tables)
  returning id, name
),
links as (
  insert into public.table_join_links (table_id, join_table_id)
  select a.id, b.id
  from floor a
  join floor b on a.id < b.id
  where (a.name like 'Dining Room %' and b.name like 'Dining Room %')
     or (a.name in ('Low 4a', 'Low 4b') and b.name in ('Low 4a', 'Low 4b'))
  returning table_id
)
insert into public.table_holds (scope, table_id, hold_type, status, starts_on, note)
select 'table', f.id, 'walk_in_hold', 'active', date '2026-01-01',
       'Standing walk-in hold: ' || f.name
from floor f
where f.name in ('Low 4a', 'High 4');

-- A restaurant of 50 covers.
insert into public.system_settings (key, value, description)
values ('restaurant_capacity', '{"max_capacity": 50}', 'Covers the restaurant can seat at once')
on conflict (key) do nothing;
