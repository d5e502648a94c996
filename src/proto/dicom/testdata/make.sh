#!/usr/bin/env bash
# Regenerates the DICOM captures in this folder (*.pcap) from real DICOM
# implementations talking over loopback, captured with tcpdump:
#   - storescp / storescu / echoscu as installed in /usr/bin (dcmtk package),
#   - pynetdicom 3.0 (pip install pynetdicom pydicom) where those tools cannot
#     produce the conversation (rejection, user identity, C-FIND / C-MOVE,
#     two C-STOREs in one association).
# The images are synthetic, made here with pydicom. They carry a fake patient
# name ("DOE^JANE") on purpose: the tests assert it never reaches a record.
# Run as root (tcpdump on lo), then ./extract.sh to refresh the .stream files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
port=11112
server_pid=""
tcpdump_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- synthetic images -------------------------------------------------------
python3 - "$work" <<'PY'
import sys
import array
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid, CTImageStorage

out = sys.argv[1]

def image(path, rows, cols, station):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[path])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyDate = "20240102"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME Medical"
    ds.InstitutionName = "General Hospital"
    ds.StationName = station
    ds.ManufacturerModelName = "ScanMaster 9"
    # Patient module: fake PHI the parser must never copy.
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN-0042-PHI"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    # A sequence of defined length before the wanted tags: skipped by length.
    code = Dataset()
    code.CodeValue = "CTHEAD"
    code.CodingSchemeDesignator = "99LOCAL"
    code.CodeMeaning = "CT head DOE^JANE"
    ds.ProcedureCodeSequence = [code]
    ds.DeviceSerialNumber = "SN-000123"
    ds.SoftwareVersions = "4.2.1"
    ds.ProtocolName = "HEAD ROUTINE"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[path, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[path, "series"])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = array.array("H", (i % 4096 for i in range(rows * cols))).tobytes()
    ds.save_as(f"{out}/{path}", enforce_file_format=True)

image("ct.dcm", 64, 64, "CT01")
image("big.dcm", 1024, 1024, "CT02")  # 2 MiB of pixel data
PY

# --- helpers ----------------------------------------------------------------
start_capture() {
    tcpdump -i lo -U -s 0 -w "$here/$1.pcap" "tcp port $port" 2>/dev/null &
    tcpdump_pid=$!
    sleep 1
}
stop_capture() {
    sleep 1
    kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
    tcpdump_pid=""
}
start_server() {
    "$@" &
    server_pid=$!
    sleep 2
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# --- installed storescp / storescu / echoscu ---------------------------------
start_server storescp -aet STORESCP --ignore "$port"

start_capture echo
echoscu -aet ECHOSCU -aec STORESCP 127.0.0.1 "$port"
stop_capture

start_capture echo_abort
echoscu -aet ECHOSCU -aec STORESCP --abort 127.0.0.1 "$port"
stop_capture

start_capture store_ct
storescu -aet MODALITY1 -aec STORESCP 127.0.0.1 "$port" "$work/ct.dcm"
stop_capture
stop_server

# --- pynetdicom: rejection, user identity + C-FIND/C-MOVE, two C-STOREs ------
cat >"$work/scp.py" <<'PY'
import sys
from pydicom.dataset import Dataset
from pynetdicom import AE, evt, AllStoragePresentationContexts
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelMove,
    Verification,
)

def on_find(event):
    ident = Dataset()
    ident.QueryRetrieveLevel = "PATIENT"
    ident.PatientName = "DOE^JANE"
    ident.PatientID = "MRN-0042-PHI"
    yield 0xFF00, ident

def on_move(event):
    yield None, None  # unknown move destination: failure 0xA801

def on_user_id(event):
    return True, b"server-identity-token"

def on_store(event):
    return 0x0000

ae = AE(ae_title="PACS")
ae.require_called_aet = True
ae.add_supported_context(Verification)
ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
ae.add_supported_context(PatientRootQueryRetrieveInformationModelMove)
for cx in AllStoragePresentationContexts:
    ae.add_supported_context(cx.abstract_syntax)
ae.start_server(("127.0.0.1", int(sys.argv[1])), block=True, evt_handlers=[
    (evt.EVT_C_FIND, on_find), (evt.EVT_C_MOVE, on_move),
    (evt.EVT_USER_ID, on_user_id), (evt.EVT_C_STORE, on_store)])
PY
cat >"$work/scu.py" <<'PY'
import sys
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.pdu_primitives import UserIdentityNegotiation
from pynetdicom.sop_class import (
    CTImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelMove,
    Verification,
)
from pydicom.uid import ExplicitVRLittleEndian

scenario, port, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ae = AE(ae_title="WORKSTATION1")
if scenario == "reject":
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="WRONGAE")
    assert assoc.is_rejected
elif scenario == "find_move":
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelMove)
    user = UserIdentityNegotiation()
    user.user_identity_type = 2
    user.positive_response_requested = True
    user.primary_field = b"jdoe-tech"
    user.secondary_field = b"s3cret-pass"
    assoc = ae.associate("127.0.0.1", port, ae_title="PACS", ext_neg=[user])
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientName = "DOE^JANE"
    query.PatientID = ""
    for _ in assoc.send_c_find(query, PatientRootQueryRetrieveInformationModelFind):
        pass
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = "MRN-0042-PHI"
    for _ in assoc.send_c_move(query, "NOWHERE", PatientRootQueryRetrieveInformationModelMove):
        pass
    assoc.release()
elif scenario == "store_two":
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="PACS")
    assert assoc.is_established
    for name in ("big.dcm", "ct.dcm"):
        status = assoc.send_c_store(dcmread(f"{work}/{name}"))
        assert status.Status == 0
    assoc.release()
PY
start_server python3 "$work/scp.py" "$port"
for scenario in reject find_move store_two; do
    start_capture "$scenario"
    python3 "$work/scu.py" "$scenario" "$port" "$work"
    stop_capture
done
stop_server
ls -la "$here"/*.pcap
