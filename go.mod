module github.com/featurizer/featurizer

go 1.26.8

require (
	github.com/yalue/onnxruntime_go v1.27.0
	google.golang.org/protobuf v1.36.12
	gopkg.in/yaml.v3 v3.0.1
)

require golang.org/x/image v0.47.0
