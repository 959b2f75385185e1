package testservers

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// Azurite's well-known development account.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite runs a real Azurite blob server on loopback for the test and
// returns the azblob:// location of the images/ prefix of a fresh
// container, and a function that uploads an object under that prefix. It
// sets AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY for the test.
func Azurite(t *testing.T) (string, func(rel string, data []byte) error) {
	t.Helper()
	bin := findTool("FEATURIZER_AZURITE", "node_modules/.bin/azurite-blob", "azurite-blob")
	if bin == "" {
		msg := "azurite-blob not found (make setup installs it with npm)"
		if os.Getenv("FEATURIZER_REQUIRE_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := loopbackPort(t)
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--disableTelemetry", "--skipApiVersionCheck", "--inMemoryPersistence", "--silent")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("azurite did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;", azuriteAccount, azuriteKey, port, azuriteAccount)
	client, err := azblob.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.CreateContainer(ctx, "featurizer", nil); err != nil {
		t.Fatal(err)
	}
	put := func(rel string, data []byte) error {
		_, err := client.UploadBuffer(ctx, "featurizer", "images/"+rel, data, nil)
		return err
	}
	return fmt.Sprintf("azblob://featurizer/images?localemu=true&domain=127.0.0.1:%d&protocol=http", port), put
}
