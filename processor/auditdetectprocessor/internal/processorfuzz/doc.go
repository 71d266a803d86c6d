// Package processorfuzz holds FuzzProcessor, the fuzz target of the whole auditdetect processor. It lives apart from
// the component's own tests so that its instrumented build holds only the processor and the collector core, not the
// receivers and exporters of the end-to-end test (which make a fuzzing build of that package take minutes).
package processorfuzz
