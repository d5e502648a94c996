"""Client side of make.sh: sends one scenario's HL7 messages over MLLP with
python-hl7's MLLP client. All patients and devices are made up.
"""
import sys
import time

from hl7.client import MLLPClient

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def seg(name, *fields, fs="|"):
    """A segment from its fields (fields[0] is field 1)."""
    return fs.join([name, *fields])


def seg_at(name, values, fs="|"):
    """A segment with values placed at field numbers: {10: "x", 16: "y"}."""
    last = max(values)
    return seg(name, *[values.get(i, "") for i in range(1, last + 1)], fs=fs)


def msh(sending_app, sending_fac, recv_app, recv_fac, msg_type, control_id, version,
        fs="|", enc="^~\\&"):
    return fs.join(["MSH", enc, sending_app, sending_fac, recv_app, recv_fac,
                    "20240501120000", "", msg_type, control_id, "P", version])


PID = seg("PID", "1", "", "MRN778899^^^GENERAL_HOSP^MR", "", "DOE^JANE^Q", "",
          "19800315", "F", "", "", "42 ELM STREET^^SPRINGFIELD^IL^62704", "",
          "(217)555-0142")


def adt_a01():
    return "\r".join([
        msh("ADT_SYS", "GENERAL_HOSP^1.2.3.4.5^ISO", "EMR", "WARD_3",
            "ADT^A01^ADT_A01", "ADT0001", "2.8.2"),
        seg("EVN", "A01", "20240501120000"),
        PID,
        seg("NK1", "1", "DOE^JOHN", "SPO"),
        seg("PV1", "1", "I", "WARD3^301^A"),
        seg_at("PRT", {2: "AD", 4: "EQUIP",
                       10: "INFUSION-PUMP-17^BIOMED^1.2.840.10004.1^ISO",
                       16: "(01)00812345678901(21)SN4711"}),
    ]) + "\r"


def oru_r01(control_id, value):
    return "\r".join([
        msh("MONITOR_GW", "ICU_EAST", "LIS", "GENERAL_HOSP", "ORU^R01^ORU_R01",
            control_id, "2.5.1"),
        PID,
        seg("OBR", "1", "", "OBS123", "8867-4^Heart rate^LN"),
        seg_at("OBX", {1: "1", 2: "NM", 3: "8867-4^Heart rate^LN", 5: value,
                       6: "/min", 7: "60-100", 8: "H", 11: "F",
                       14: "20240501121400",
                       18: "MON-0042^ICU_EAST^1.2.840.99.7^ISO~VENT-0007^ICU_EAST"}),
        seg("NTE", "1", "", "Patient Jane reported dizziness"),
    ]) + "\r"


def batch():
    return "\r".join([
        seg("FHS", "^~\\&", "BATCH_APP", "LAB_A", "RCV", "HOSP", "20240501"),
        seg("BHS", "^~\\&", "BATCH_APP", "LAB_A", "RCV", "HOSP", "20240501"),
        msh("BATCH_APP", "LAB_A", "RCV", "HOSP", "ORU^R01^ORU_R01", "B0001", "2.5.1"),
        PID,
        seg_at("OBX", {1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "5.4", 18: "ANALYZER-3"}),
        msh("BATCH_APP", "LAB_A", "RCV", "HOSP", "ADT^A08^ADT_A01", "B0002", "2.5.1"),
        PID,
        seg("BTS", "2"),
        seg("FTS", "1"),
    ]) + "\r"


def alt_encoding():
    fs = "$"
    return "\r".join([
        msh("ALT_APP%NS1", "ALT_FAC", "RCV_APP", "RCV_FAC", "ORU%R01%ORU_R01",
            "ENC0001", "2.5.1", fs=fs, enc="%~\\&"),
        "PID$1$$MRN778899%%%GENERAL_HOSP%MR$$DOE%JANE%Q$$19800315$F",
        seg_at("OBX", {1: "1", 2: "NM", 3: "8867-4%Heart rate%LN", 5: "173",
                       18: "ALT\\F\\DEV-9~SPARE-DEV"}, fs=fs),
    ]) + "\r"


def frame(text):
    return SB + text.encode() + EB + CR


def main():
    port = int(sys.argv[1])
    scenario = sys.argv[2]
    if scenario == "write-adt":
        # For mllp_send -f: the message in its MLLP frame.
        sys.stdout.buffer.write(frame(adt_a01()))
        return
    with MLLPClient("127.0.0.1", port) as client:
        if scenario == "oru":
            client.send_message(oru_r01("ORU0001", "173"))
            client.send_message(oru_r01("ORU0002AE", "174"))
        elif scenario == "batch":
            client.send(frame(batch()))
        elif scenario == "encoding":
            client.send(frame(alt_encoding()))
        elif scenario == "split":
            data = frame(adt_a01().replace("ADT0001", "SPLIT0001"))
            cuts = [12, 180]
            for a, b in zip([0] + cuts, cuts + [len(data)]):
                client.socket.sendall(data[a:b])
                time.sleep(0.2)
            client.socket.recv(4096)
        elif scenario == "garbage":
            client.send_message(adt_a01().replace("ADT0001", "GARB0001"))
            client.socket.sendall(b"\r\nNOISE\x00\x01")
            time.sleep(0.2)
            client.send_message(adt_a01().replace("ADT0001", "GARB0002"))
        else:
            raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
