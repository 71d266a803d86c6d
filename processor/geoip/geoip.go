// Package geoip serves SPL's `iplocation` from a MaxMind GeoLite2/GeoIP2 City database, read with MaxMind's
// maintained reader (oschwald/geoip2-golang).
package geoip

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/oschwald/geoip2-golang"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// DB is an open City database. It is safe for concurrent use.
type DB struct {
	reader *geoip2.Reader
}

var _ engine.GeoIP = (*DB)(nil)

// Open opens a City database file.
func Open(path string) (*DB, error) {
	// The reader memory-maps the file, and mmap's errors for a directory or an empty file ("no such device",
	// "invalid argument") do not say what is wrong with the setting.
	if fi, err := os.Stat(path); err == nil {
		switch {
		case fi.IsDir():
			return nil, fmt.Errorf("geoip_database %s: is a directory; give the path of a GeoLite2/GeoIP2 City .mmdb file", path)
		case fi.Size() == 0:
			return nil, fmt.Errorf("geoip_database %s: is empty (not a MaxMind database)", path)
		}
	}
	r, err := geoip2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip_database %s: %w", path, err)
	}
	if t := r.Metadata().DatabaseType; t != "" && !strings.Contains(t, "City") {
		_ = r.Close()
		return nil, fmt.Errorf("geoip_database %s: database type %q has no city data; use a GeoLite2/GeoIP2 City database", path, t)
	}
	return &DB{reader: r}, nil
}

// Lookup returns the English names Splunk's iplocation shows: City, Country, Region (first subdivision), lat, lon.
func (db *DB) Lookup(ip netip.Addr) (engine.Location, bool) {
	rec, err := db.reader.City(net.IP(ip.AsSlice()))
	if err != nil || (rec.Country.IsoCode == "" && rec.City.GeoNameID == 0 && rec.Location.Latitude == 0) {
		return engine.Location{}, false
	}
	loc := engine.Location{
		City:    rec.City.Names["en"],
		Country: rec.Country.Names["en"],
		Lat:     rec.Location.Latitude,
		Lon:     rec.Location.Longitude,
	}
	if len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].Names["en"]
	}
	return loc, true
}

// Close releases the database.
func (db *DB) Close() error { return db.reader.Close() }
