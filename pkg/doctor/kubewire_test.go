package doctor

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/randfill"
)

// encoded is an API object with its protobuf encoding.
type encoded[T any] interface {
	*T
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// bothReductions are obj reduced as the store held it before (decoded whole, reduced with reduce, encoded
// and decoded again) and reduced in its encoding with reduceEncoding (then decoded).
func bothReductions[T any, P encoded[T]](t *testing.T, obj P, reduce func(P) T, reduceEncoding func([]byte) ([]byte, error)) (byDecoding, inEncoding P) {
	t.Helper()
	r := reduce(obj)
	raw, err := P(&r).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	byDecoding = new(T)
	if err := byDecoding.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	whole, err := obj.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	red, err := reduceEncoding(whole)
	if err != nil {
		t.Fatal(err)
	}
	inEncoding = new(T)
	if err := inEncoding.Unmarshal(red); err != nil {
		t.Fatalf("the reduced encoding does not decode: %v", err)
	}
	return byDecoding, inEncoding
}

func podReductions(t *testing.T, p *corev1.Pod) (byDecoding, inEncoding *corev1.Pod) {
	t.Helper()
	return bothReductions(t, p, reducePod, reducePodEncoding)
}

// A pod reduced in its encoding is the pod reducePod makes: for the pod the webhook leaves and for random
// ones (every field of the API filled at random, a thousand times).
func TestPodReducedInEncodingIsReducePod(t *testing.T) {
	t.Parallel()
	whole := webhookPod()
	want, got := podReductions(t, whole)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reduced in its encoding:\n%+v\nreducePod:\n%+v", got, want)
	}
	if len(got.Spec.Volumes) != 2 || got.ManagedFields != nil || got.Annotations[lastApplied] != "" || got.Status.PodIP != "" {
		t.Fatalf("the reduced pod kept what no check reads: %+v", got)
	}
	randomReductionsAgree(t, 1, 1000, reducePod, reducePodEncoding)
}

func TestDeploymentReducedInEncodingIsReduceDeployment(t *testing.T) {
	t.Parallel()
	randomReductionsAgree(t, 2, 500, reduceDeployment, reduceDeploymentEncoding)
}

// randomReductionsAgree fills n objects at random (a third with kubectl apply's copy of themselves) and
// fails on the first whose reduction in its encoding is not reduce's.
func randomReductionsAgree[T any, P interface {
	encoded[T]
	metav1.Object
}](t *testing.T, seed int64, n int, reduce func(P) T, reduceEncoding func([]byte) ([]byte, error)) {
	t.Helper()
	f := randomFiller(seed)
	for i := 0; i < n; i++ {
		obj := P(new(T))
		f.Fill(obj)
		if i%3 == 0 {
			obj.GetAnnotations()[lastApplied] = "{}"
		}
		if by, in := bothReductions(t, obj, reduce, reduceEncoding); !reflect.DeepEqual(by, in) {
			t.Fatalf("random %T %d reduced in its encoding:\n%+v\nreduced decoded:\n%+v", obj, i, in, by)
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
