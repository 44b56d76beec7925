-- The area (patch, estate or district) a landlord files a home under, so housing officers can
-- see the cases of the homes they look after. Free text chosen by the landlord, empty when
-- none was recorded; it is not an address and holds no personal data.
ALTER TABLE dwellings ADD COLUMN area text NOT NULL DEFAULT ''
    CHECK (length(area) <= 100);

CREATE INDEX dwellings_area ON dwellings (landlord_id, area) WHERE area <> '';
