// cert-manager-validate: cert-manager's own admission checks of a Certificate (the webhook's
// defaulting, conversion to the internal version, ValidateCertificate and its warnings), run on
// a kubectl `-o json` List from stdin; prints one line per Certificate and exits 1 if any is
// refused. It imports cert-manager's internal packages, so hack/ensure-cert-manager.sh builds it
// inside a copy of cert-manager's module (this directory starts with "_": the scratch module in
// hack/cert-manager does not build it). It stands in for the webhook, which tsetcd's e2e does not run.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	internalcmapi "github.com/cert-manager/cert-manager/internal/apis/certmanager"
	cminstall "github.com/cert-manager/cert-manager/internal/apis/certmanager/install"
	"github.com/cert-manager/cert-manager/internal/apis/certmanager/validation"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func main() {
	scheme := runtime.NewScheme()
	cminstall.Install(scheme)
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		fail(err)
	}
	refused := false
	for _, raw := range list.Items {
		var crt cmapi.Certificate
		if err := json.Unmarshal(raw, &crt); err != nil {
			fail(err)
		}
		scheme.Default(&crt)
		var internal internalcmapi.Certificate
		if err := scheme.Convert(&crt, &internal, nil); err != nil {
			fail(err)
		}
		errs, warnings := validation.ValidateCertificate(nil, &internal)
		switch {
		case len(errs) > 0:
			refused = true
			fmt.Printf("%s: refused: %s\n", crt.Name, errs.ToAggregate().Error())
		case len(warnings) > 0:
			fmt.Printf("%s: admitted with warnings: %s\n", crt.Name, strings.Join(warnings, "; "))
		default:
			fmt.Printf("%s: admitted\n", crt.Name)
		}
	}
	if refused {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cert-manager-validate:", err)
	os.Exit(2)
}
