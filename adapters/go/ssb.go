//go:build franzssb

package main

import "github.com/twmb/franz-go/pkg/kgo"

// hasServerSideBalancer: this franz-go release has kgo.ServerSideBalancer (KIP-848, 1.22.0+).
const hasServerSideBalancer = true

func serverSideBalancer() []kgo.Opt { return []kgo.Opt{kgo.ServerSideBalancer()} }
