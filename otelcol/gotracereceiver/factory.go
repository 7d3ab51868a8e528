package gotracereceiver

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// typeStr is the receiver's type in a Collector's configuration.
const typeStr = "gotrace"

var componentType = component.MustNewType(typeStr)

// NewFactory returns the factory of the gotrace receiver, for a Collector
// built with it (the Collector's builder calls it).
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		componentType,
		func() component.Config { return createDefaultConfig() },
		receiver.WithTraces(createTraces, component.StabilityLevelAlpha),
	)
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("gotrace receiver: configuration of type %T, not *Config", cfg)
	}
	return newReceiver(set, c, next)
}
