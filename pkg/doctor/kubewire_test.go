package doctor

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/randfill"
)

// reducedByDecoding is what the store held before: the object decoded whole, reduced, encoded.
func podReducedByDecoding(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	r := reducePod(p)
	raw, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := &corev1.Pod{}
	if err := out.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return out
}

func podReducedInEncoding(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	red, err := reducePodEncoding(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := &corev1.Pod{}
	if err := out.Unmarshal(red); err != nil {
		t.Fatalf("the reduced encoding does not decode: %v", err)
	}
	return out
}

func deploymentsReduced(t *testing.T, d *appsv1.Deployment) (byDecoding, inEncoding *appsv1.Deployment) {
	t.Helper()
	r := reduceDeployment(d)
	raw, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	byDecoding = &appsv1.Deployment{}
	if err := byDecoding.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	whole, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	red, err := reduceDeploymentEncoding(whole)
	if err != nil {
		t.Fatal(err)
	}
	inEncoding = &appsv1.Deployment{}
	if err := inEncoding.Unmarshal(red); err != nil {
		t.Fatalf("the reduced encoding does not decode: %v", err)
	}
	return byDecoding, inEncoding
}

// A pod reduced in its encoding is the pod reducePod makes: for the pod the webhook leaves and for random
// ones (every field of the API filled at random, a thousand times).
func TestPodReducedInEncodingIsReducePod(t *testing.T) {
	t.Parallel()
	whole := webhookPod()
	if got, want := podReducedInEncoding(t, whole), podReducedByDecoding(t, whole); !reflect.DeepEqual(got, want) {
		t.Fatalf("reduced in its encoding:\n%+v\nreducePod:\n%+v", got, want)
	}
	if got := podReducedInEncoding(t, whole); len(got.Spec.Volumes) != 2 || got.ManagedFields != nil || got.Annotations[lastApplied] != "" || got.Status.PodIP != "" {
		t.Fatalf("the reduced pod kept what no check reads: %+v", got)
	}
	f := randomFiller(1)
	for i := 0; i < 1000; i++ {
		p := &corev1.Pod{}
		f.Fill(p)
		if i%3 == 0 {
			p.Annotations[lastApplied] = "{}"
		}
		if got, want := podReducedInEncoding(t, p), podReducedByDecoding(t, p); !reflect.DeepEqual(got, want) {
			t.Fatalf("random pod %d reduced in its encoding:\n%+v\nreducePod:\n%+v", i, got, want)
		}
	}
}

func TestDeploymentReducedInEncodingIsReduceDeployment(t *testing.T) {
	t.Parallel()
	f := randomFiller(2)
	for i := 0; i < 500; i++ {
		d := &appsv1.Deployment{}
		f.Fill(d)
		if i%3 == 0 {
			d.Annotations[lastApplied] = "{}"
		}
		if by, in := deploymentsReduced(t, d); !reflect.DeepEqual(by, in) {
			t.Fatalf("random Deployment %d reduced in its encoding:\n%+v\nreduceDeployment:\n%+v", i, in, by)
		}
	}
}

// randomFiller fills API objects at random with values their protobuf encoding keeps as they are.
func randomFiller(seed int64) *randfill.Filler {
	return randfill.NewWithSeed(seed).NilChance(0.2).NumElements(1, 3).MaxDepth(12).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(c.Int63n(1000), resource.DecimalSI)
		},
		func(t *metav1.Time, c randfill.Continue) { *t = metav1.Unix(c.Int63n(1<<31), 0) },
		func(t *metav1.MicroTime, c randfill.Continue) {
			*t = metav1.NewMicroTime(metav1.Unix(c.Int63n(1<<31), 0).Time)
		},
		func(v *intstr.IntOrString, c randfill.Continue) { *v = intstr.FromInt32(c.Int31()) },
		func(f *metav1.FieldsV1, c randfill.Continue) { f.Raw = []byte(`{"f:metadata":{}}`) },
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			c.FillNoCustom(m)
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
		},
	)
}

// A list page gives the same items and continue token in protobuf (what the API server sends) and in JSON
// (what a proxy without protobuf would).
func TestListItemsInProtobufAndJSON(t *testing.T) {
	t.Parallel()
	list := &corev1.PodList{ListMeta: metav1.ListMeta{Continue: "next-page", ResourceVersion: "42"},
		Items: []corev1.Pod{*webhookPod(), {ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns2"}}}}
	for _, mediaType := range []string{"application/vnd.kubernetes.protobuf", "application/json"} {
		info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
		if !ok {
			t.Fatalf("no serializer for %s", mediaType)
		}
		body, err := runtime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion), list)
		if err != nil {
			t.Fatal(err)
		}
		items, cont, err := listItems(body)
		if err != nil {
			t.Fatalf("%s: %v", mediaType, err)
		}
		if cont != "next-page" || len(items) != len(list.Items) {
			t.Fatalf("%s: continue %q and %d items, want next-page and %d", mediaType, cont, len(items), len(list.Items))
		}
		for i, raw := range items {
			got := corev1.Pod{}
			if err := got.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			want := list.Items[i]
			want.TypeMeta = got.TypeMeta
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: item %d is\n%+v\nwant\n%+v", mediaType, i, got, want)
			}
			if ns, err := encodedNamespace(raw); err != nil || ns != want.Namespace {
				t.Errorf("%s: item %d's namespace %q (%v), want %q", mediaType, i, ns, err, want.Namespace)
			}
		}
	}
	if _, _, err := listItems([]byte("k8s\x00\x12\x05\x0a")); err == nil {
		t.Error("a truncated page was read without an error")
	}
}
