// Command featurizer turns images into feature vectors with pretrained
// backbones on ONNX Runtime, trains classifier heads on them and predicts:
// featurize, predict, train, run (a whole job from a YAML file), backbones,
// show and version ('featurizer help'). This package parses flags, shows
// progress and decides the exit code (0 ok, 1 job failed, 2 bad flags or
// configuration, 130 stopped); the work is in package jobs.
package main
