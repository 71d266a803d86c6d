package geoip

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
)

func TestLookup(t *testing.T) {
	path := geoiptest.WriteCityDB(t, map[string]geoiptest.Place{
		"203.0.113.0/24": {City: "Paris", Country: "France", CountryISO: "FR", Region: "Île-de-France", Lat: 48.86, Lon: 2.35},
		"10.0.0.0/8":     {City: "Boston", Country: "United States", CountryISO: "US", Lat: 42.36, Lon: -71.06},
	})
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, ok := db.Lookup(netip.MustParseAddr("203.0.113.9"))
	want := engine.Location{City: "Paris", Country: "France", Region: "Île-de-France", Lat: 48.86, Lon: 2.35}
	if !ok || got != want {
		t.Errorf("Lookup = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := db.Lookup(netip.MustParseAddr("10.20.30.40")); !ok || got.Country != "United States" || got.Region != "" {
		t.Errorf("Lookup(10.20.30.40) = %+v, %v", got, ok)
	}
	if _, ok := db.Lookup(netip.MustParseAddr("198.51.100.1")); ok {
		t.Errorf("an address outside every network resolved")
	}
	if _, ok := db.Lookup(netip.MustParseAddr("2001:db8::1")); ok {
		t.Errorf("an IPv6 address outside every network resolved")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil || !strings.Contains(err.Error(), "missing.mmdb") {
		t.Errorf("missing file: err = %v", err)
	}
}
