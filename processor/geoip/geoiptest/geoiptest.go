// Package geoiptest writes small MaxMind City databases for tests with MaxMind's own writer library, so that no
// database is ever downloaded.
package geoiptest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Place is what a network resolves to.
type Place struct {
	City, Country, CountryISO, Region string
	Lat, Lon                          float64
}

// WriteCityDB writes a GeoIP2-City-shaped database mapping each CIDR to its place and returns its path.
func WriteCityDB(t testing.TB, places map[string]Place) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-City",
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // tests use documentation and private ranges
		RecordSize:              28,
	})
	if err != nil {
		t.Fatal(err)
	}
	names := func(s string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(s)} }
	for cidr, p := range places {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"city":     mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": names(p.City)},
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(p.CountryISO), "names": names(p.Country)},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(p.Lat), "longitude": mmdbtype.Float64(p.Lon)},
		}
		if p.Region != "" {
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"names": names(p.Region)}}
		}
		if err := w.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}
