// Written by hand in the shape mdatagen generates from metadata.yaml (mdatagen cannot be installed here).

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("auditdetect")
	ScopeName = "github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

const (
	LogsStability = component.StabilityLevelAlpha
)
