package auditdetectprocessor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// Detection state across restarts. With `storage` naming a storage extension (file_storage), the processor restores
// at start-up the state its stateful rules had when it last saved (engine.RestoreState: open stats windows,
// new_terms histories, for every rule whose definition is unchanged), saves it every checkpoint_interval and at
// shutdown. A collector restarted for an upgrade or a rescheduled pod then neither misses a scan that spans the
// restart nor reports ordinary traffic as new. State is a cache of what the events said: when it cannot be read it
// is logged and the processor starts empty, as without storage; it never stops the collector.

// stateStorageKey is the key of the saved state in the processor's storage client.
const stateStorageKey = "detection_state"

var (
	saveSuccess = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "success")))
	saveFailure = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "failure")))
)

// stateStore is the storage client and the checkpoint goroutine's controls; nil without storage.
type stateStore struct {
	client storage.Client
	stop   chan struct{}
	done   chan struct{}
}

// openState gets the processor's storage client and restores the saved state into the running engine. A storage
// setting that names no storage extension fails start-up: the state would silently not be kept.
func (p *auditProcessor) openState(ctx context.Context, host component.Host) error {
	if p.cfg.Storage == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*p.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: extension %q is not among the collector's extensions (service::extensions)", p.cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", p.cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, p.id, "")
	if err != nil {
		// file_storage times out on a client another instance holds: each pipeline runs its own instance.
		return fmt.Errorf("storage: %q: %w (is %s listed in more than one pipeline? each runs its own instance, and "+
			"they cannot share one state)", p.cfg.Storage, err, p.id)
	}
	p.store = &stateStore{client: client}
	p.restoreState(ctx)
	if p.cfg.CheckpointInterval > 0 {
		p.store.stop, p.store.done = make(chan struct{}), make(chan struct{})
		go p.checkpoints(p.cfg.CheckpointInterval)
	}
	return nil
}

// restoreAttempts and restoreBackoff bound how long start-up waits for a storage that fails to read.
const (
	restoreAttempts = 3
	restoreBackoff  = 200 * time.Millisecond
)

func (p *auditProcessor) restoreState(ctx context.Context) {
	var data []byte
	var err error
	for attempt := 1; ; attempt++ {
		if data, err = p.store.client.Get(ctx, stateStorageKey); err == nil || attempt == restoreAttempts {
			break
		}
		time.Sleep(restoreBackoff)
	}
	if err != nil {
		p.logger.Error("detection state not read from storage: stateful rules start empty, and the next checkpoint "+
			"replaces the saved state with this run's", zap.Error(err))
		return
	}
	if data == nil {
		p.logger.Info("no saved detection state: stateful rules start empty")
		return
	}
	restored, dropped, err := p.detector.engine.RestoreState(bytes.NewReader(data))
	if err != nil {
		p.logger.Warn("saved detection state unreadable; stateful rules start empty", zap.Error(err))
		return
	}
	p.logger.Info("detection state restored",
		zap.Int("rules_restored", len(restored)), zap.Int("saved_rules_changed_or_gone", dropped))
}

func (p *auditProcessor) checkpoints(interval time.Duration) {
	defer close(p.store.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.store.stop:
			return
		case <-ticker.C:
			p.mu.RLock() // a reload swaps the engine under the write lock
			data, err := p.encodeState()
			p.mu.RUnlock()
			if err == nil {
				// Written without the lock: a slow storage must not hold up a reload, and the batches queued
				// behind it.
				ctx, cancel := context.WithTimeout(context.Background(), max(interval, checkpointTimeout))
				err = p.writeState(ctx, data)
				cancel()
			}
			if err != nil {
				p.logger.Warn("detection state not saved; the next checkpoint tries again", zap.Error(err))
			}
		}
	}
}

// stopCheckpoints ends the checkpoint goroutine; it must be called without holding p.mu, which a checkpoint takes.
func (p *auditProcessor) stopCheckpoints() {
	if p.store != nil && p.store.stop != nil {
		close(p.store.stop)
		<-p.store.done
		p.store.stop = nil
	}
}

// checkpointTimeout is the least time a checkpoint's write may take before it is given up.
const checkpointTimeout = 30 * time.Second

// encodeState encodes the engine's state. The caller holds p.mu (read or write), so the engine it encodes is the
// running one.
func (p *auditProcessor) encodeState() ([]byte, error) {
	var buf bytes.Buffer
	if err := p.detector.engine.SaveState(&buf); err != nil {
		p.telemetry.ProcessorAuditdetectStateSaves.Add(context.Background(), 1, saveFailure)
		return nil, fmt.Errorf("saving detection state: %w", err)
	}
	return buf.Bytes(), nil
}

// writeState writes encoded state to storage.
func (p *auditProcessor) writeState(ctx context.Context, data []byte) error {
	if err := p.store.client.Set(ctx, stateStorageKey, data); err != nil {
		p.telemetry.ProcessorAuditdetectStateSaves.Add(ctx, 1, saveFailure)
		return fmt.Errorf("saving detection state: %w", err)
	}
	p.telemetry.ProcessorAuditdetectStateSaves.Add(ctx, 1, saveSuccess)
	p.telemetry.ProcessorAuditdetectStateBytes.Record(ctx, int64(len(data)))
	return nil
}

// closeState saves the state a last time and closes the storage client. The caller holds p.mu for writing, after
// the throttles were flushed: no batch runs, so the saved state is the final one.
func (p *auditProcessor) closeState(ctx context.Context) error {
	if p.store == nil {
		return nil
	}
	data, err := p.encodeState()
	if err == nil {
		err = p.writeState(ctx, data)
	}
	return errors.Join(err, p.store.client.Close(ctx))
}
