package geoip

import (
	"net/netip"
	"os"
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

// TestOpenDirectoryOrEmpty: the two settings mmap fails on with an errno ("no such device", "invalid argument") are
// said in the setting's terms.
func TestOpenDirectoryOrEmpty(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || err.Error() != "geoip_database "+dir+": is a directory; give the path of a GeoLite2/GeoIP2 City .mmdb file" {
		t.Errorf("directory: err = %v", err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); err == nil || err.Error() != "geoip_database "+empty+": is empty (not a MaxMind database)" {
		t.Errorf("empty file: err = %v", err)
	}
}
