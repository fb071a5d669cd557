package doctor

import (
	"bytes"
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"google.golang.org/protobuf/encoding/protowire"
)

// Deployments and pods are listed as protobuf and reduced in their encoding: each list item's bytes are
// copied without the fields no check reads (reduceDeployment's and reducePod's, to the same objects), and
// the copy is what the store keeps. Decoding a whole pod or Deployment to drop most of it and encoding the
// rest again was most of the plugin's work while the lists paged in, on the cores the API server and the
// IAM read need then.

const protobufType = "application/vnd.kubernetes.protobuf"

// protobufMagic starts every protobuf answer of the API server (k8s.io/apimachinery's serializer).
var protobufMagic = []byte("k8s\x00")

// listRaw pages through a namespace's resource (all namespaces for "") as protobuf, listPageSize items a
// page with the next page asked for while one is kept, and calls keep with each item's encoding, in list
// order. The bytes are the page's: keep copies what it keeps.
func listRaw(ctx context.Context, c rest.Interface, ns, resource string, keep func(item []byte) error) error {
	type page struct {
		items [][]byte
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		cont := ""
		for {
			opts := metav1.ListOptions{Limit: listPageSize, Continue: cont}
			body, err := c.Get().Namespace(ns).Resource(resource).VersionedParams(&opts, scheme.ParameterCodec).
				SetHeader("Accept", protobufType+", application/json").Do(ctx).Raw()
			var items [][]byte
			if err == nil {
				items, cont, err = listItems(body)
				if err != nil {
					err = fmt.Errorf("listing %s: %w", resource, err)
				}
			}
			select {
			case pages <- page{items, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || cont == "" {
				return
			}
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		for _, it := range p.items {
			if err := keep(it); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// listItems are the items of a protobuf list answer (runtime.Unknown around a list: its ListMeta is field
// 1, its items field 2), each item's encoding, and its continue token. A list in JSON (from a server or
// proxy that does not speak protobuf) is decoded and its items encoded.
func listItems(body []byte) (items [][]byte, cont string, err error) {
	if !bytes.HasPrefix(body, protobufMagic) {
		return jsonListItems(body)
	}
	var list []byte
	err = eachField(body[len(protobufMagic):], func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 2 && typ == protowire.BytesType: // raw
			list = v
		case num == 3 && typ == protowire.BytesType && len(v) > 0: // contentEncoding
			return fmt.Errorf("the list is encoded as %q", v)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	err = eachField(list, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType: // metadata
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num == 3 && typ == protowire.BytesType { // continue
					cont = string(v)
				}
				return nil
			})
		case num == 2 && typ == protowire.BytesType: // items
			items = append(items, v)
		}
		return nil
	})
	return items, cont, err
}

func jsonListItems(body []byte) (items [][]byte, cont string, err error) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("the list does not decode: %w", err)
	}
	list, err := meta.ListAccessor(obj)
	if err != nil {
		return nil, "", err
	}
	err = meta.EachListItem(obj, func(o runtime.Object) error {
		m, ok := o.(interface{ Marshal() ([]byte, error) })
		if !ok {
			return fmt.Errorf("a %T has no protobuf encoding", o)
		}
		raw, err := m.Marshal()
		items = append(items, raw)
		return err
	})
	return items, list.GetContinue(), err
}

// eachField calls fn with each field of msg: for length-delimited fields v is the payload, for the others
// the value's encoding.
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("malformed protobuf: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(msg)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n >= 0 {
				v = msg[:n]
			}
		}
		if n < 0 {
			return fmt.Errorf("malformed protobuf: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

// fieldRule says what becomes of one field of a message being reduced: drop it, keep it as it is, or
// keep what reduce makes of its payload (a message's fields reduced in turn; nil drops the field).
type fieldRule struct {
	keep   bool
	reduce func([]byte) ([]byte, error)
}

var keepField = fieldRule{keep: true}

// messageRules are the rules of a message's fields; a field without one is kept when others is.
type messageRules struct {
	fields map[protowire.Number]fieldRule
	others bool
}

// reduceMessage appends to dst the fields of msg that rules keep, in their order.
func reduceMessage(dst, msg []byte, rules messageRules) ([]byte, error) {
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
		r, ok := rules.fields[num]
		if !ok {
			r.keep = rules.others
		}
		if !r.keep {
			return nil
		}
		if r.reduce == nil {
			dst = protowire.AppendTag(dst, num, typ)
			if typ == protowire.BytesType {
				dst = protowire.AppendBytes(dst, v)
			} else {
				dst = append(dst, v...)
			}
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("malformed protobuf: field %d is not a message", num)
		}
		out, err := r.reduce(v)
		if err != nil || out == nil {
			return err
		}
		dst = protowire.AppendTag(dst, num, typ)
		dst = protowire.AppendBytes(dst, out)
		return nil
	})
	return dst, err
}

// reducer is reduceMessage with rules, for a rule's reduce.
func reducer(rules messageRules) func([]byte) ([]byte, error) {
	return func(msg []byte) ([]byte, error) { return reduceMessage([]byte{}, msg, rules) }
}

// The field numbers below are k8s.io/api's and k8s.io/apimachinery's generated.proto.

// metaRules are reduceMeta's: ObjectMeta without its owner references (13) and managed fields (17), and
// without kubectl apply's copy of the object among its annotations (12, each a map entry: key 1, value 2).
var metaRules = messageRules{others: true, fields: map[protowire.Number]fieldRule{
	13: {},
	17: {},
	12: {keep: true, reduce: func(entry []byte) ([]byte, error) {
		applied := false
		err := eachField(entry, func(num protowire.Number, typ protowire.Type, v []byte) error {
			applied = applied || num == 1 && typ == protowire.BytesType && string(v) == lastApplied
			return nil
		})
		if err != nil || applied {
			return nil, err
		}
		return entry, nil
	}},
}}

// deploymentRules are reduceDeployment's: metadata (1) reduced, spec (2) whole, no status (3).
var deploymentRules = messageRules{fields: map[protowire.Number]fieldRule{
	1: {keep: true, reduce: reducer(metaRules)},
	2: keepField,
}}

// containerRules are reduceContainers': name (1), image (2), env (7), envFrom (19).
var containerRules = messageRules{fields: map[protowire.Number]fieldRule{1: keepField, 2: keepField, 7: keepField, 19: keepField}}

// podRules are reducePod's: metadata (1) reduced; of the spec (2), the volumes (1) that project a
// ServiceAccount token, the containers (2) and init containers (20) reduced, serviceAccountName (8) and
// serviceAccount (9); of the status (3), the phase (1).
var podRules = messageRules{fields: map[protowire.Number]fieldRule{
	1: {keep: true, reduce: reducer(metaRules)},
	2: {keep: true, reduce: reducer(messageRules{fields: map[protowire.Number]fieldRule{
		1:  {keep: true, reduce: reduceTokenVolume},
		2:  {keep: true, reduce: reducer(containerRules)},
		20: {keep: true, reduce: reducer(containerRules)},
		8:  keepField,
		9:  keepField,
	}})},
	3: {keep: true, reduce: reducer(messageRules{fields: map[protowire.Number]fieldRule{1: keepField}})},
}}

// reduceTokenVolume is a Volume (name 1, volumeSource 2) as reducePod keeps it: only when it is projected
// (VolumeSource field 26) with ServiceAccount token sources (ProjectedVolumeSource.sources 1,
// VolumeProjection.serviceAccountToken 4), with those sources only; nil otherwise.
func reduceTokenVolume(vol []byte) ([]byte, error) {
	var name []byte
	var tokens [][]byte
	err := eachField(vol, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			name = v
		case num == 2 && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != 26 || typ != protowire.BytesType {
					return nil
				}
				return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
					if num != 1 || typ != protowire.BytesType {
						return nil
					}
					return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
						if num == 4 && typ == protowire.BytesType {
							tokens = append(tokens, v)
						}
						return nil
					})
				})
			})
		}
		return nil
	})
	if err != nil || len(tokens) == 0 {
		return nil, err
	}
	var projected []byte
	for _, t := range tokens {
		var src []byte
		src = protowire.AppendTag(src, 4, protowire.BytesType)
		src = protowire.AppendBytes(src, t)
		projected = protowire.AppendTag(projected, 1, protowire.BytesType)
		projected = protowire.AppendBytes(projected, src)
	}
	var source, out []byte
	source = protowire.AppendTag(source, 26, protowire.BytesType)
	source = protowire.AppendBytes(source, projected)
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	out = protowire.AppendBytes(out, name)
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendBytes(out, source)
	return out, nil
}

// reducePodEncoding is reducePod on a pod's encoding.
func reducePodEncoding(pod []byte) ([]byte, error) { return reduceMessage(nil, pod, podRules) }

// reduceDeploymentEncoding is reduceDeployment on a Deployment's encoding.
func reduceDeploymentEncoding(d []byte) ([]byte, error) {
	return reduceMessage(nil, d, deploymentRules)
}

// encodedNamespace is the namespace of an object's encoding (metadata 1, namespace 3).
func encodedNamespace(obj []byte) (string, error) {
	ns := ""
	err := eachField(obj, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num == 3 && typ == protowire.BytesType {
				ns = string(v)
			}
			return nil
		})
	})
	return ns, err
}
