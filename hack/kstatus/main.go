// Command kstatus prints what sigs.k8s.io/cli-utils' kstatus library (the
// status reader of kubectl wait --for=jsonpath, Flux and kpt) says about
// Kubernetes objects: the tests use it as the referee of the operator's
// status conditions.
//
// Input on stdin: a JSON array of objects (or one object). Output on stdout:
// a JSON array, one {"status", "message", "conditions"} per object, in order.
// Exit status 1 when an object cannot be read or classified.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status     string             `json:"status"`
	Message    string             `json:"message"`
	Conditions []status.Condition `json:"conditions"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// apimachinery's decoder keeps whole numbers int64, as unstructured objects need.
	var objects []map[string]interface{}
	if err := utiljson.Unmarshal(raw, &objects); err != nil {
		var single map[string]interface{}
		if err2 := utiljson.Unmarshal(raw, &single); err2 != nil {
			return fmt.Errorf("input is neither a JSON array nor an object: %w", err)
		}
		objects = []map[string]interface{}{single}
	}
	verdicts := make([]verdict, 0, len(objects))
	for i, object := range objects {
		result, err := status.Compute(&unstructured.Unstructured{Object: object})
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		verdicts = append(verdicts, verdict{
			Status:     result.Status.String(),
			Message:    result.Message,
			Conditions: result.Conditions,
		})
	}
	encoder := json.NewEncoder(out)
	encoder.SetIndent("", "  ")
	return encoder.Encode(verdicts)
}
