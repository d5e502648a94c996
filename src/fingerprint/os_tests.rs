use super::*;

fn day(text: &str) -> Date {
    parse_date(text).unwrap()
}

// --- the shipped tables --------------------------------------------------

#[test]
fn every_eol_row_parses_and_names_its_source() {
    let rows = eol_table().unwrap();
    assert_eq!(rows.len(), EOL_TABLE_ROWS);
    for row in rows {
        assert!(row.source.starts_with("https://"), "{row:?}");
        assert!(
            !row.edition.is_empty() && !row.version.is_empty(),
            "{row:?}"
        );
        if let Some(esu) = row.esu_end {
            assert!(esu > row.end, "ESU ends after free support: {row:?}");
        }
    }
}

#[test]
fn every_dhcp_row_parses_and_names_its_source() {
    let rows = dhcp_prl_table().unwrap();
    assert_eq!(rows.len(), DHCP_PRL_ROWS);
    assert!(
        rows.iter()
            .all(|r| !r.source.is_empty() && !r.codes.is_empty())
    );
}

#[test]
fn a_damaged_table_is_refused_with_its_line() {
    let header = "family,version,build,edition,end_of_support,kind,esu_end,source,note\n";
    let bad_date =
        format!("{header}debian,9,,Debian 9,2022-02-30,lts,,https://wiki.debian.org/LTS,\n");
    let text: &'static str = Box::leak(bad_date.into_boxed_str());
    assert_eq!(
        parse_eol_table(text).unwrap_err(),
        TableError {
            line: 2,
            reason: "end_of_support must be YYYY-MM-DD"
        }
    );
    let no_source = format!("{header}debian,9,,Debian 9,2022-06-30,lts,,,\n");
    let text: &'static str = Box::leak(no_source.into_boxed_str());
    assert_eq!(
        parse_eol_table(text).unwrap_err().reason,
        "a row needs a source URL"
    );
    let no_builds = format!("{header}windows,6.1,,Windows 7,2020-01-14,extended,,https://x,\n");
    let text: &'static str = Box::leak(no_builds.into_boxed_str());
    assert_eq!(
        parse_eol_table(text).unwrap_err().reason,
        "a Windows row needs its builds"
    );
    assert!(
        parse_prl_table(
            "match\tcodes\tfamily\tversion\tclient\tsource\nexact\t1,x\tlinux\t\tc\ts\n"
        )
        .is_err()
    );
}

#[test]
fn names_serialise_as_documented() {
    for family in FAMILIES {
        assert_eq!(
            serde_json::to_value(family).unwrap(),
            serde_json::json!(family.as_str())
        );
        assert_eq!(OsFamily::from_name(family.as_str()), Some(*family));
    }
    assert_eq!(
        serde_json::to_value(ClueSource::DhcpVendorClass).unwrap(),
        serde_json::json!("dhcp.vendor_class")
    );
    assert_eq!(serde_json::to_value(Confidence::Medium).unwrap(), "medium");
}

// --- p0f -----------------------------------------------------------------

#[test]
fn p0f_labels() {
    let win = from_p0f("win", "Windows", "7 or 8").unwrap();
    assert_eq!(
        (win.family, win.version.as_deref(), win.confidence),
        (OsFamily::Windows, Some("7 or 8"), Confidence::Medium)
    );
    assert_eq!(win.source, ClueSource::TcpP0f);
    let nt = from_p0f("win", "Windows", "NT kernel 6.x").unwrap();
    assert_eq!(
        (nt.version, nt.kernel.as_deref(), nt.confidence),
        (None, Some("6.x"), Confidence::Low)
    );
    let linux = from_p0f("unix", "Linux", "3.11 and newer").unwrap();
    assert_eq!(
        (linux.family, linux.kernel.as_deref(), linux.confidence),
        (OsFamily::Linux, Some("3.11 and newer"), Confidence::Medium)
    );
    let range = from_p0f("unix", "Linux", "2.2.x-3.x").unwrap();
    assert_eq!(range.confidence, Confidence::Low);
    assert_eq!(
        from_p0f("unix", "Linux", "(Android)").unwrap().family,
        OsFamily::Android
    );
    assert_eq!(
        from_p0f(
            "unix",
            "MacOS X",
            "10.9 or newer (sometimes iPhone or iPad)"
        )
        .unwrap()
        .family,
        OsFamily::Macos
    );
    assert_eq!(from_p0f("!", "NMap", "SYN scan"), None);
    assert_eq!(from_p0f("other", "Nintendo", "Wii"), None);
}

#[test]
fn a_p0f_match_below_exact_is_low() {
    let found = OsMatch {
        family: "Windows",
        flavor: "7 or 8",
        label: "Windows 7 or 8",
        class: "win",
        confidence: P0fConfidence::Fuzzy,
        distance: 0,
        line: 1,
    };
    assert_eq!(from_p0f_match(&found).unwrap().confidence, Confidence::Low);
    let exact = OsMatch {
        confidence: P0fConfidence::Exact,
        ..found
    };
    assert_eq!(
        from_p0f_match(&exact).unwrap().confidence,
        Confidence::Medium
    );
}

// --- NTLMSSP -------------------------------------------------------------

#[test]
fn ntlm_builds_name_releases_and_shared_builds_name_both() {
    let cases: &[(u8, u8, u16, &str)] = &[
        (5, 1, 2600, "XP"),
        (5, 2, 3790, "Server 2003 or XP x64"),
        (6, 0, 6002, "Vista SP2 or Server 2008 SP2"),
        (6, 1, 7601, "7 SP1 or Server 2008 R2 SP1"),
        (6, 2, 9200, "8 or Server 2012"),
        (6, 3, 9600, "8.1 or Server 2012 R2"),
        (10, 0, 10240, "10 1507 or LTSB 2015"),
        (10, 0, 14393, "10 1607, LTSB 2016 or Server 2016"),
        (10, 0, 17763, "10 1809, LTSC 2019 or Server 2019"),
        (10, 0, 19045, "10 22H2"),
        (10, 0, 20348, "Server 2022"),
        (10, 0, 22000, "11 21H2"),
        (10, 0, 26100, "11 24H2, LTSC 2024 or Server 2025"),
        (10, 0, 19999, "10 or Server (build 19999)"),
        (10, 0, 27000, "11 or Server (build 27000)"),
    ];
    for (major, minor, build, version) in cases {
        let clue = from_ntlm_version(*major, *minor, *build).unwrap();
        assert_eq!(clue.family, OsFamily::Windows);
        assert_eq!(
            clue.version.as_deref(),
            Some(*version),
            "{major}.{minor}.{build}"
        );
        assert_eq!(clue.build, Some(u32::from(*build)));
        assert_eq!(clue.kernel, Some(format!("{major}.{minor}")));
        assert_eq!(clue.confidence, Confidence::High);
        assert_eq!(clue.source.as_str(), "smb.ntlmssp");
    }
}

#[test]
fn samba_build_zero_is_not_windows() {
    assert_eq!(from_ntlm_version(6, 1, 0), None);
}

// --- DHCP ----------------------------------------------------------------

#[test]
fn dhcp_vendor_classes() {
    let ms = from_dhcp_vendor_class("MSFT 5.0").os.unwrap();
    assert_eq!(
        (ms.family, ms.confidence),
        (OsFamily::Windows, Confidence::Medium)
    );

    let dhcpcd = from_dhcp_vendor_class("dhcpcd-9.4.1:Linux-6.1.0-13-amd64:x86_64:GenuineIntel");
    let os = dhcpcd.os.unwrap();
    assert_eq!(
        (os.family, os.kernel.as_deref()),
        (OsFamily::Linux, Some("6.1.0-13-amd64"))
    );
    let sw = dhcpcd.software.unwrap();
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("dhcpcd", Some("9.4.1"))
    );

    let android = from_dhcp_vendor_class("android-dhcp-13").os.unwrap();
    assert_eq!(
        (android.family, android.version.as_deref()),
        (OsFamily::Android, Some("13"))
    );

    let udhcp = from_dhcp_vendor_class("udhcp 1.36.1");
    assert_eq!(udhcp.os.unwrap().family, OsFamily::Linux);
    assert_eq!(udhcp.software.unwrap().version.as_deref(), Some("1.36.1"));

    assert_eq!(
        from_dhcp_vendor_class("MedTap-Infusion/4.2"),
        Clues::default()
    );
}

#[test]
fn dhcp_parameter_request_lists() {
    let win10 =
        from_dhcp_fingerprint(&[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]).unwrap();
    assert_eq!(
        (win10.family, win10.version.as_deref(), win10.confidence),
        (OsFamily::Windows, Some("10 or 11"), Confidence::Low)
    );
    // iOS's list is a prefix of macOS's: the longest fit wins, and iOS is
    // matched exactly.
    let mac = from_dhcp_fingerprint_text("1,121,3,6,15,119,252,95,44,46").unwrap();
    assert_eq!(mac.family, OsFamily::Macos);
    let ios = from_dhcp_fingerprint_text("1,121,3,6,15,119,252").unwrap();
    assert_eq!(ios.family, OsFamily::Ios);
    assert_eq!(from_dhcp_fingerprint_text("1,121,3,6,15,119,252,1"), None);
    // dhclient as recorded in fixtures/identity (a custom request line,
    // the ISC order).
    let dhclient = from_dhcp_fingerprint_text("1,28,2,3,15,6,12,42,26").unwrap();
    assert_eq!(dhclient.family, OsFamily::Linux);
    assert!(
        dhclient.evidence.contains("dhclient"),
        "{}",
        dhclient.evidence
    );
    let busybox = from_dhcp_fingerprint_text("1,3,6,12,15,28,42").unwrap();
    assert!(busybox.evidence.contains("BusyBox"));
    assert_eq!(from_dhcp_fingerprint_text("1,3,x"), None);
    assert_eq!(from_dhcp_fingerprint(&[]), None);
}

// --- HTTP ----------------------------------------------------------------

#[test]
fn user_agents() {
    let win7 = from_user_agent("Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36");
    let os = win7.os.unwrap();
    assert_eq!(
        (
            os.family,
            os.version.as_deref(),
            os.kernel.as_deref(),
            os.confidence
        ),
        (
            OsFamily::Windows,
            Some("7 or Server 2008 R2"),
            Some("6.1"),
            Confidence::Medium
        )
    );
    assert_eq!(win7.software, None, "Mozilla is not a product");
    let xp = from_user_agent("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1)")
        .os
        .unwrap();
    assert_eq!(xp.version.as_deref(), Some("XP"));
    let ten = from_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        .os
        .unwrap();
    assert_eq!(ten.kernel.as_deref(), Some("10.0"));
    let ce = from_user_agent("Mozilla/4.0 (compatible; MSIE 6.0; Windows CE; IEMobile 7.11)")
        .os
        .unwrap();
    assert_eq!(ce.family, OsFamily::WindowsCe);
    let android = from_user_agent("Mozilla/5.0 (Linux; Android 13; Pixel 7)")
        .os
        .unwrap();
    assert_eq!(
        (android.family, android.version.as_deref()),
        (OsFamily::Android, Some("13"))
    );
    let ios = from_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X)")
        .os
        .unwrap();
    assert_eq!(
        (ios.family, ios.version.as_deref()),
        (OsFamily::Ios, Some("16.5"))
    );
    let mac = from_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
        .os
        .unwrap();
    assert_eq!(
        (mac.family, mac.version.as_deref(), mac.confidence),
        (OsFamily::Macos, Some("10.15.7"), Confidence::Low)
    );
    let linux = from_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101")
        .os
        .unwrap();
    assert_eq!(
        (linux.family, linux.confidence),
        (OsFamily::Linux, Confidence::Low)
    );

    let curl = from_user_agent("curl/7.88.1");
    assert_eq!(curl.os, None);
    let sw = curl.software.unwrap();
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref(), sw.source),
        ("curl", Some("7.88.1"), ClueSource::HttpUserAgent)
    );
}

#[test]
fn iis_versions_name_windows_releases() {
    let cases = [
        ("Microsoft-IIS/5.1", "XP", "5.1"),
        ("Microsoft-IIS/6.0", "XP x64 or Server 2003", "5.2"),
        ("Microsoft-IIS/7.0", "Vista or Server 2008", "6.0"),
        ("Microsoft-IIS/7.5", "7 or Server 2008 R2", "6.1"),
        ("Microsoft-IIS/8.0", "8 or Server 2012", "6.2"),
        ("Microsoft-IIS/8.5", "8.1 or Server 2012 R2", "6.3"),
        (
            "Microsoft-IIS/10.0",
            "10, 11 or Server 2016 and later",
            "10.0",
        ),
    ];
    for (header, version, kernel) in cases {
        let clues = from_http_server(header);
        let os = clues.os.unwrap();
        assert_eq!(
            (os.version.as_deref(), os.kernel.as_deref()),
            (Some(version), Some(kernel)),
            "{header}"
        );
        assert_eq!(clues.software.unwrap().product, "Microsoft-IIS");
    }
}

#[test]
fn other_servers_are_software_with_a_platform_hint() {
    let apache = from_http_server("Apache/2.4.38 (Debian)");
    let sw = apache.software.unwrap();
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("Apache", Some("2.4.38"))
    );
    assert_eq!(apache.os.unwrap().family, OsFamily::Debian);
    let nginx = from_http_server("nginx/1.18.0 (Ubuntu)");
    assert_eq!(nginx.os.unwrap().family, OsFamily::Ubuntu);
    let lighttpd = from_http_server("lighttpd/1.4.59");
    assert_eq!(
        (lighttpd.software.unwrap().version.as_deref(), lighttpd.os),
        (Some("1.4.59"), None)
    );
    let rompager = from_http_server("Allegro-Software-RomPager/4.07 UPnP/1.0");
    assert_eq!(
        rompager.software.unwrap().product,
        "Allegro-Software-RomPager"
    );
    let win = from_http_server("Apache/2.4.41 (Win64) OpenSSL/1.1.1c");
    assert_eq!(win.os.unwrap().family, OsFamily::Windows);
}

// --- SSH -----------------------------------------------------------------

#[test]
fn ssh_banners() {
    let deb = from_ssh_banner("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7");
    let sw = deb.software.unwrap();
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("OpenSSH", Some("7.4p1"))
    );
    let os = deb.os.unwrap();
    assert_eq!(
        (os.family, os.version.as_deref(), os.confidence),
        (OsFamily::Debian, Some("9"), Confidence::Medium)
    );
    let deb12 = from_ssh_banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
        .os
        .unwrap();
    assert_eq!(deb12.version.as_deref(), Some("12"));
    let fresh = from_ssh_banner("SSH-2.0-OpenSSH_7.9p1 Debian-10")
        .os
        .unwrap();
    assert_eq!(
        fresh.version.as_deref(),
        Some("10"),
        "from the OpenSSH version Debian 10 ships"
    );

    let ubuntu = from_ssh_banner("SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5")
        .os
        .unwrap();
    assert_eq!(
        (ubuntu.family, ubuntu.version.as_deref()),
        (OsFamily::Ubuntu, Some("20.04"))
    );
    let bionic = from_ssh_banner("SSH-2.0-OpenSSH_7.6p1 Ubuntu-4ubuntu0.7")
        .os
        .unwrap();
    assert_eq!(bionic.version.as_deref(), Some("18.04"));

    let dropbear = from_ssh_banner("SSH-2.0-dropbear_2019.78");
    assert_eq!(
        dropbear.software.unwrap().version.as_deref(),
        Some("2019.78")
    );
    assert_eq!(dropbear.os.unwrap().family, OsFamily::Linux);
    let cisco = from_ssh_banner("SSH-1.99-Cisco-1.25");
    assert_eq!(cisco.software.unwrap().product, "Cisco SSH");
    assert_eq!(cisco.os.unwrap().family, OsFamily::CiscoIos);
    let ros = from_ssh_banner("SSH-2.0-ROSSSH");
    assert_eq!(ros.os.unwrap().family, OsFamily::RouterOs);
    let win = from_ssh_banner("SSH-2.0-OpenSSH_for_Windows_8.1");
    assert_eq!(win.os.unwrap().family, OsFamily::Windows);
    assert_eq!(win.software.unwrap().version.as_deref(), Some("8.1"));
    let bare = from_ssh_banner("SSH-2.0-OpenSSH_8.9");
    assert_eq!(
        (bare.os, bare.software.unwrap().version.as_deref()),
        (None, Some("8.9"))
    );
    assert_eq!(from_ssh_banner("HTTP/1.1 400"), Clues::default());
}

// --- SNMP ----------------------------------------------------------------

#[test]
fn snmp_sysdescrs() {
    let win = from_snmp_sysdescr(
        "Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)",
    )
    .unwrap();
    assert_eq!(
        (
            win.family,
            win.build,
            win.version.as_deref(),
            win.confidence
        ),
        (
            OsFamily::Windows,
            Some(7601),
            Some("7 SP1 or Server 2008 R2 SP1"),
            Confidence::High
        )
    );
    let linux = from_snmp_sysdescr("Linux pump-gw 5.10.0-21-armmp #1 SMP").unwrap();
    assert_eq!(
        (linux.family, linux.kernel.as_deref(), linux.confidence),
        (OsFamily::Linux, Some("5.10.0"), Confidence::High)
    );
    let debian = from_snmp_sysdescr(
        "Linux host 4.19.0-18-amd64 #1 SMP Debian 4.19.208-1 (2021-09-29) x86_64",
    )
    .unwrap();
    assert_eq!(
        (debian.family, debian.kernel.as_deref()),
        (OsFamily::Debian, Some("4.19.0"))
    );
    let el7 = from_snmp_sysdescr(
        "Linux pacs 3.10.0-1160.el7.x86_64 #1 SMP Mon Oct 19 16:18:59 UTC 2020 x86_64",
    )
    .unwrap();
    assert_eq!(
        (el7.family, el7.version.as_deref()),
        (OsFamily::Rhel, Some("7"))
    );
    let cisco = from_snmp_sysdescr(
        "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.2(4)E, RELEASE SOFTWARE (fc2)",
    )
    .unwrap();
    assert_eq!(
        (cisco.family, cisco.version.as_deref(), cisco.confidence),
        (OsFamily::CiscoIos, Some("15.2(4)E"), Confidence::High)
    );
    let vx = from_snmp_sysdescr("VxWorks 6.9 SMP on Intel").unwrap();
    assert_eq!(
        (vx.family, vx.version.as_deref()),
        (OsFamily::Vxworks, Some("6.9"))
    );
    let qnx = from_snmp_sysdescr("QNX 6.5.0 x86pc").unwrap();
    assert_eq!(
        (qnx.family, qnx.version.as_deref()),
        (OsFamily::Qnx, Some("6.5.0"))
    );
    assert_eq!(from_snmp_sysdescr("HP ETHERNET MULTI-ENVIRONMENT"), None);
}

// --- FTP and Telnet ------------------------------------------------------

#[test]
fn ftp_and_telnet_greetings() {
    let ms = from_banner_text(BannerService::Ftp, "220 Microsoft FTP Service");
    assert_eq!(ms.os.unwrap().family, OsFamily::Windows);
    let vsftpd = from_banner_text(BannerService::Ftp, "220 (vsFTPd 3.0.3)");
    let sw = vsftpd.software.unwrap();
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref(), sw.source),
        ("vsFTPd", Some("3.0.3"), ClueSource::FtpBanner)
    );
    assert_eq!(vsftpd.os.unwrap().confidence, Confidence::Low);
    let proftpd = from_banner_text(
        BannerService::Ftp,
        "220 ProFTPD 1.3.5 Server (Debian) [::ffff:10.0.0.5]",
    );
    assert_eq!(proftpd.software.unwrap().version.as_deref(), Some("1.3.5"));
    assert_eq!(proftpd.os.unwrap().family, OsFamily::Debian);
    let telnet = from_banner_text(
        BannerService::Telnet,
        "Welcome to Microsoft Telnet Service \r\n\r\nlogin: ",
    );
    let os = telnet.os.unwrap();
    assert_eq!(
        (os.family, os.source),
        (OsFamily::Windows, ClueSource::TelnetBanner)
    );
    assert!(
        !os.evidence.contains('\r'),
        "control characters are stripped"
    );
    let busybox = from_banner_text(
        BannerService::Telnet,
        "BusyBox v1.31.1 (2020-03-02) built-in shell",
    );
    assert_eq!(busybox.software.unwrap().version.as_deref(), Some("1.31.1"));
    let vx = from_banner_text(BannerService::Ftp, "220 VxWorks (5.4.2) FTP server ready");
    assert_eq!(vx.os.unwrap().version.as_deref(), Some("5.4.2"));
    let issue = from_banner_text(BannerService::Telnet, "Ubuntu 18.04.6 LTS\r\nmon-07 login:");
    let os = issue.os.unwrap();
    assert_eq!(
        (os.family, os.version.as_deref()),
        (OsFamily::Ubuntu, Some("18.04"))
    );
    let deb = from_banner_text(BannerService::Telnet, "Debian GNU/Linux 10\r\nlogin:")
        .os
        .unwrap();
    assert_eq!(deb.version.as_deref(), Some("10"));
}

#[test]
fn long_and_hostile_input_is_bounded() {
    let long = format!(
        "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7 {}",
        "\u{1b}[31m".repeat(5000)
    );
    let clues = from_ssh_banner(&long);
    let os = clues.os.unwrap();
    assert!(os.evidence.chars().count() <= MAX_EVIDENCE_TEXT);
    assert!(!os.evidence.contains('\u{1b}'));
    let product = format!("{}/1.0", "é".repeat(2000));
    let sw = from_http_server(&product).software.unwrap();
    assert!(sw.product.chars().count() <= MAX_FIELD_LEN);
    // A cut in the middle of a multi-byte character does not panic.
    let _ = from_user_agent(&"é".repeat(MAX_INPUT_LEN));
    let _ = from_snmp_sysdescr(&format!("Linux {}", "x".repeat(5000)));
}

// --- combine -------------------------------------------------------------

#[test]
fn the_most_confident_most_specific_clue_names_the_family() {
    let p0f = from_p0f("win", "Windows", "7 or 8").unwrap();
    let ntlm = from_ntlm_version(6, 1, 7601).unwrap();
    let dhcp = from_dhcp_vendor_class("MSFT 5.0").os.unwrap();
    let os = combine(&[p0f.clone(), dhcp.clone(), ntlm.clone()]).unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(os.version.as_deref(), Some("7 SP1 or Server 2008 R2 SP1"));
    assert_eq!(os.build, Some(7601));
    assert_eq!(os.confidence, Confidence::High);
    assert_eq!(os.evidence.len(), 3);
    assert_eq!(os.evidence[0].source, ClueSource::SmbNtlmssp);
    assert!(os.evidence.iter().all(|e| !e.conflicting));
    // The order clues arrive in does not matter.
    assert_eq!(combine(&[ntlm, p0f, dhcp]), Some(os));
}

#[test]
fn agreement_from_another_source_raises_confidence() {
    let dhcp = from_dhcp_fingerprint_text("1,3,6,15,31,33,43,44,46,47,119,121,249,252").unwrap();
    let alone = combine(std::slice::from_ref(&dhcp)).unwrap();
    assert_eq!(alone.confidence, Confidence::Low);
    let p0f = from_p0f("win", "Windows", "NT kernel").unwrap();
    let both = combine(&[dhcp.clone(), p0f]).unwrap();
    assert_eq!(both.confidence, Confidence::Medium);
    // Two clues from the same source are not independent.
    let again = combine(&[dhcp.clone(), dhcp]).unwrap();
    assert_eq!(again.confidence, Confidence::Low);
}

#[test]
fn a_distribution_refines_linux_and_the_kernel_is_kept() {
    let snmp = from_snmp_sysdescr("Linux host 4.9.0-19-amd64 #1 SMP").unwrap();
    let ssh = from_ssh_banner("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7")
        .os
        .unwrap();
    let os = combine(&[snmp, ssh]).unwrap();
    assert_eq!(os.family, OsFamily::Debian);
    assert_eq!(os.version.as_deref(), Some("9"));
    assert_eq!(os.kernel.as_deref(), Some("4.9.0"));
    // Debian (medium, named by SSH) confirmed by SNMP's Linux: one step up.
    assert_eq!(os.confidence, Confidence::High);
}

#[test]
fn conflicting_families_keep_the_stronger_and_list_the_other() {
    let ntlm = from_ntlm_version(10, 0, 19045).unwrap();
    let p0f = from_p0f("unix", "Linux", "3.11 and newer").unwrap();
    let os = combine(&[p0f, ntlm]).unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(os.confidence, Confidence::High, "the conflict is weaker");
    let linux = os
        .evidence
        .iter()
        .find(|e| e.family == OsFamily::Linux)
        .unwrap();
    assert!(linux.conflicting);

    // An equally sure conflict lowers the verdict a step.
    let a = from_p0f("win", "Windows", "XP").unwrap();
    let b = from_p0f("unix", "Linux", "3.11 and newer").unwrap();
    let os = combine(&[b.clone(), a.clone()]).unwrap();
    assert_eq!(os.confidence, Confidence::Low);
    assert_eq!(combine(&[a, b]), Some(os), "deterministic on ties");

    // Sibling distributions conflict.
    let deb = from_ssh_banner("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7")
        .os
        .unwrap();
    let ubu = from_http_server("nginx/1.18.0 (Ubuntu)").os.unwrap();
    let os = combine(&[ubu, deb]).unwrap();
    assert_eq!(os.family, OsFamily::Debian);
    assert!(
        os.evidence
            .iter()
            .any(|e| e.conflicting && e.family == OsFamily::Ubuntu)
    );
}

#[test]
fn evidence_is_bounded() {
    let clue = from_p0f("win", "Windows", "XP").unwrap();
    let many = vec![clue; MAX_EVIDENCE_ITEMS + 3];
    let os = combine(&many).unwrap();
    assert_eq!(os.evidence.len(), MAX_EVIDENCE_ITEMS);
    assert_eq!(os.evidence_omitted, 3);
    assert_eq!(combine(&[]), None);
}

#[test]
fn the_verdict_serialises_in_snake_case() {
    let os = combine(&[from_ntlm_version(6, 1, 7601).unwrap()])
        .unwrap()
        .with_end_of_life(day("2026-12-03"));
    let json = serde_json::to_value(&os).unwrap();
    assert_eq!(json["family"], "windows");
    assert_eq!(json["build"], 7601);
    assert_eq!(json["evidence"][0]["source"], "smb.ntlmssp");
    assert_eq!(json["evidence"][0].get("conflicting"), None);
    assert_eq!(json["end_of_life"]["date"], "2021-10-12");
    assert_eq!(json["end_of_life"]["kind"], "extended");
    assert_eq!(json["end_of_life"]["esu_end"], "2024-10-08");
    assert_eq!(json["end_of_life"]["past"], true);
}

#[test]
fn software_is_deduplicated_and_bounded() {
    let a = from_ssh_banner("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7")
        .software
        .unwrap();
    let list = software_list(&[a.clone(), a.clone()]);
    assert_eq!(list, vec![a]);
    let many: Vec<SoftwareClue> = (0..40)
        .map(|i| from_user_agent(&format!("tool{i}/1.0")).software.unwrap())
        .collect();
    assert_eq!(software_list(&many).len(), MAX_SOFTWARE_ITEMS);
}

// --- end of life ---------------------------------------------------------

fn os_of(clue: OsClue) -> Os {
    combine(&[clue]).unwrap()
}

#[test]
fn a_shared_build_reports_the_latest_end_of_its_editions() {
    let today = day("2026-12-03");
    let eol = eol_of(&os_of(from_ntlm_version(6, 1, 7601).unwrap()), today).unwrap();
    assert_eq!(eol.date, day("2021-10-12"), "POSReady 7 ends last");
    assert!(eol.past);
    assert_eq!(eol.editions.len(), 4, "{:?}", eol.editions);
    assert!(eol.editions.contains(&"Windows Server 2008 R2 SP1"));

    // 17763 is also LTSC 2019 and Server 2019: supported into 2029.
    let eol = eol_of(&os_of(from_ntlm_version(10, 0, 17763).unwrap()), today).unwrap();
    assert_eq!((eol.date, eol.past), (day("2029-01-09"), false));

    // 19045 (10 22H2) ended 2025-10-14; paid ESU may still cover it.
    let eol = eol_of(&os_of(from_ntlm_version(10, 0, 19045).unwrap()), today).unwrap();
    assert_eq!(
        (eol.date, eol.past, eol.esu_end),
        (day("2025-10-14"), true, Some(day("2028-10-10")))
    );
    assert!(eol.esu_open);
    let seven = eol_of(&os_of(from_ntlm_version(6, 1, 7601).unwrap()), today).unwrap();
    assert!(!seven.esu_open, "POSReady 7's ESU ended 2024-10-08");

    let xp = eol_of(&os_of(from_ntlm_version(5, 1, 2600).unwrap()), today).unwrap();
    assert_eq!(xp.date, day("2019-04-09"), "POSReady 2009 ends last");
}

#[test]
fn the_end_day_itself_is_still_supported() {
    let os = os_of(from_ntlm_version(10, 0, 19045).unwrap());
    assert!(!eol_of(&os, day("2025-10-14")).unwrap().past);
    assert!(eol_of(&os, day("2025-10-15")).unwrap().past);
}

#[test]
fn only_a_specific_fingerprint_gets_an_end_of_life() {
    let today = day("2026-12-03");
    // p0f's "7 or 8" names no NT version or build.
    assert_eq!(
        eol_of(&os_of(from_p0f("win", "Windows", "7 or 8").unwrap()), today),
        None
    );
    // NT 10.0 without a build spans 2017 to 2034.
    let ten = from_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        .os
        .unwrap();
    assert_eq!(eol_of(&os_of(ten), today), None);
    // NT 6.1 without a build: every 6.1 edition is past.
    let seven = from_user_agent("Mozilla/5.0 (Windows NT 6.1; Win64; x64)")
        .os
        .unwrap();
    assert!(eol_of(&os_of(seven), today).unwrap().past);
    // IIS 7.5 ships only with NT 6.1.
    let iis = from_http_server("Microsoft-IIS/7.5").os.unwrap();
    assert!(eol_of(&os_of(iis), today).unwrap().past);
    // Debian without a release, Linux, Android: nothing to look up.
    assert_eq!(
        eol_of(
            &os_of(from_http_server("Apache/2.4.38 (Debian)").os.unwrap()),
            today
        ),
        None
    );
    assert_eq!(
        eol_of(&os_of(from_p0f("unix", "Linux", "3.x").unwrap()), today),
        None
    );
    assert_eq!(
        eol_of(
            &os_of(from_dhcp_vendor_class("android-dhcp-9").os.unwrap()),
            today
        ),
        None
    );
}

#[test]
fn distributions_look_up_their_release() {
    let today = day("2026-12-03");
    let stretch = from_ssh_banner("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7")
        .os
        .unwrap();
    let eol = eol_of(&os_of(stretch), today).unwrap();
    assert_eq!(
        (eol.date, eol.kind, eol.past),
        (day("2022-06-30"), EolKind::Lts, true)
    );
    let bookworm = from_ssh_banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
        .os
        .unwrap();
    assert!(!eol_of(&os_of(bookworm), today).unwrap().past);
    let bionic = from_banner_text(BannerService::Telnet, "Ubuntu 18.04.6 LTS")
        .os
        .unwrap();
    assert_eq!(
        eol_of(&os_of(bionic), today).unwrap().date,
        day("2023-05-31")
    );
    let el7 = from_snmp_sysdescr("Linux pacs 3.10.0-1160.el7.x86_64 #1 SMP").unwrap();
    let eol = eol_of(&os_of(el7), today).unwrap();
    assert_eq!(
        (eol.date, eol.kind),
        (day("2024-06-30"), EolKind::Maintenance)
    );
    let ce = from_user_agent("Mozilla/4.0 (compatible; MSIE 6.0; Windows CE 6.0)")
        .os
        .unwrap();
    assert_eq!(eol_of(&os_of(ce), today).unwrap().date, day("2018-04-10"));
}

#[test]
fn packet_time_becomes_a_utc_day() {
    // 2024-05-01T12:00:00Z
    assert_eq!(
        date_of_micros(1_714_564_800_000_000),
        Some(day("2024-05-01"))
    );
    assert_eq!(date_of_micros(-1), Some(day("1969-12-31")));
    assert_eq!(date_of_micros(i64::MAX), None);
}

#[test]
fn a_guesss_kernel_range_does_not_land_on_a_surer_verdict() {
    let debian = from_ssh_banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10")
        .os
        .expect("ssh clue");
    let guess = from_p0f("unix", "Linux", "2.2.x-3.x").expect("p0f clue");
    let os = combine(&[debian, guess.clone()]).expect("verdict");
    assert_eq!(os.family, OsFamily::Debian);
    assert_eq!(os.kernel, None);
    // Alone, the guess keeps its range.
    let os = combine(&[guess]).expect("verdict");
    assert_eq!(os.kernel.as_deref(), Some("2.2.x-3.x"));
}
