package doctor

import (
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// kubeStore holds a run's Deployments and pods between their lists and their judging, compactly: each
// object, reduced to what the checks read, as its protobuf encoding, by namespace in list order. A
// namespace's objects are decoded when a check or a target of it asks for them, and the decoded copies of
// the namespaces asked for last are kept (targets are judged in namespace order, a few at once). With ten
// thousand ServiceAccounts, Deployments and pods, the decoded objects were most of what doctor -A held
// while waiting for IAM: their Go structs alone are over a kilobyte each, mostly empty fields, where the
// encoding of a reduced one is a few hundred bytes.
type kubeStore struct {
	namespaces map[string]*storedNamespace

	mu    sync.Mutex
	views map[string]*nsView
	order []string // the namespaces of views, oldest first
}

// storedNamespace is one namespace's objects, encoded.
type storedNamespace struct {
	deployments []storedDeployment
	pods        [][]byte
}

// storedDeployment is an encoded Deployment and what gathering reads of it before any judging.
type storedDeployment struct {
	name, serviceAccount string
	// envFromSecret and envFromConfigMap say that a container takes environment variables from one.
	envFromSecret, envFromConfigMap bool
	raw                             []byte
}

// nsView is one namespace's objects, decoded once by whoever asks first.
type nsView struct {
	once        sync.Once
	deployments []*appsv1.Deployment
	pods        []*corev1.Pod
}

// storeViews is how many namespaces' decoded objects the store keeps: more than the namespaces judged at
// once (runChecks judges at most 4 × parallelism targets ahead of the one it writes).
const storeViews = 64

func newKubeStore() *kubeStore {
	return &kubeStore{namespaces: map[string]*storedNamespace{}, views: map[string]*nsView{}}
}

func (s *kubeStore) namespace(ns string) *storedNamespace {
	n := s.namespaces[ns]
	if n == nil {
		n = &storedNamespace{}
		s.namespaces[ns] = n
	}
	return n
}

// addDeployment keeps a reduced Deployment (called in list order, from one goroutine per kind).
func (s *kubeStore) addDeployment(d *appsv1.Deployment) error {
	raw, err := d.Marshal()
	if err != nil {
		return fmt.Errorf("keeping Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	s.keepDeployment(d, raw)
	return nil
}

// addDeploymentEncoding keeps a reduced Deployment's encoding (a list's, in list order).
func (s *kubeStore) addDeploymentEncoding(raw []byte) error {
	d := &appsv1.Deployment{}
	if err := d.Unmarshal(raw); err != nil {
		return fmt.Errorf("decoding a listed Deployment: %w", err)
	}
	s.keepDeployment(d, raw)
	return nil
}

// keepDeployment keeps raw, the encoding of the reduced Deployment d, and what gathering reads of d.
func (s *kubeStore) keepDeployment(d *appsv1.Deployment, raw []byte) {
	sd := storedDeployment{name: d.Name, serviceAccount: serviceAccountOf(&d.Spec.Template.Spec), raw: raw}
	for _, c := range allContainers(&d.Spec.Template.Spec) {
		for _, ef := range c.EnvFrom {
			sd.envFromSecret = sd.envFromSecret || ef.SecretRef != nil
			sd.envFromConfigMap = sd.envFromConfigMap || ef.SecretRef == nil && ef.ConfigMapRef != nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.namespace(d.Namespace)
	n.deployments = append(n.deployments, sd)
}

// addPod keeps a reduced pod.
func (s *kubeStore) addPod(p *corev1.Pod) error {
	raw, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("keeping pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	s.keepPod(p.Namespace, raw)
	return nil
}

// addPodEncoding keeps a reduced pod's encoding (a list's, in list order).
func (s *kubeStore) addPodEncoding(raw []byte) error {
	ns, err := encodedNamespace(raw)
	if err != nil {
		return fmt.Errorf("reading a listed pod: %w", err)
	}
	s.keepPod(ns, raw)
	return nil
}

func (s *kubeStore) keepPod(ns string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.namespace(ns)
	n.pods = append(n.pods, raw)
}

// deploymentsOf are the namespace's stored Deployments, undecoded.
func (s *kubeStore) deploymentsOf(ns string) []storedDeployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.namespaces[ns]; n != nil {
		return n.deployments
	}
	return nil
}

// view is the namespace's objects, decoded (at most once while the view is kept).
func (s *kubeStore) view(ns string) *nsView {
	s.mu.Lock()
	v := s.views[ns]
	if v == nil {
		v = &nsView{}
		s.views[ns] = v
		s.order = append(s.order, ns)
		if len(s.order) > storeViews {
			delete(s.views, s.order[0])
			s.order = s.order[1:]
		}
	}
	n := s.namespaces[ns]
	s.mu.Unlock()
	v.once.Do(func() {
		if n == nil {
			return
		}
		for _, raw := range n.deployments {
			d := &appsv1.Deployment{}
			if err := d.Unmarshal(raw.raw); err != nil {
				// What Marshal wrote, Unmarshal reads: anything else is a bug to stop at.
				panic(fmt.Sprintf("decoding a kept Deployment of namespace %s: %v", ns, err))
			}
			v.deployments = append(v.deployments, d)
		}
		for _, raw := range n.pods {
			p := &corev1.Pod{}
			if err := p.Unmarshal(raw); err != nil {
				panic(fmt.Sprintf("decoding a kept pod of namespace %s: %v", ns, err))
			}
			v.pods = append(v.pods, p)
		}
	})
	return v
}

// store is the run's Deployments and pods: gather's, or (facts made by hand, as tests make them) made
// once from Facts.Deployments and Facts.Pods.
func (f *Facts) store() *kubeStore {
	f.storeOnce.Do(func() {
		if f.kube != nil {
			return
		}
		s := newKubeStore()
		for i := range f.Deployments {
			if err := s.addDeployment(&f.Deployments[i]); err != nil {
				panic(err) // a Deployment the apimachinery types cannot encode
			}
		}
		for i := range f.Pods {
			if err := s.addPod(&f.Pods[i]); err != nil {
				panic(err)
			}
		}
		f.kube = s
	})
	return f.kube
}

// load gives the target its Deployment and that Deployment's pods, decoded, before it is judged; unload
// drops them after.
func (f *Facts) load(t *Target) {
	if t.Deployment == "" {
		return
	}
	for _, d := range f.DeploymentsIn(t.Namespace) {
		if d.Name == t.Deployment {
			t.Deploy = d
			t.Pods = podsOf(f.PodsIn(t.Namespace), d)
			return
		}
	}
}

func (t *Target) unload() { t.Deploy, t.Pods = nil, nil }
