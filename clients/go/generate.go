package memorygateway

//go:generate go run github.com/Khan/genqlient genqlient.yaml
