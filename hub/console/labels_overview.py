"""The overview's words (the start page ``/console/``), Swedish and English; merged into the
catalogue by ``hub.console.labels``. Alert texts take ``{count}``, ``{minutes}``, ``{subject}``."""

from __future__ import annotations

sv: dict[str, str] = {
    "overview.title": "Översikt",
    "overview.scope": "Flöden för",
    "overview.window": "Period",
    "overview.hours.1": "senaste timmen",
    "overview.hours.24": "senaste dygnet",
    "overview.hours.168": "senaste veckan",
    "overview.alerts": "Larm",
    "overview.no_alerts": "Inga larm just nu.",
    "overview.messages": "{count} meddelanden tagna emot under perioden.",
    "overview.by_district": "Meddelanden per förvaltning",
    "overview.by_type": "Meddelanden per typ",
    "overview.by_destination": "Leveranser per mottagare",
    "overview.failures": "Omförsök och döda brev",
    "overview.retries": "Omförsök",
    "overview.dead": "Döda brev",
    "overview.latency": "Leveranstid per mottagare (p50, p90, p99)",
    "overview.latency.hint": "Från mottaget till levererat; gränsen för det intervall där "
    "percentilen ligger.",
    "overview.destination": "Mottagare",
    "overview.deliveries": "Leveranser",
    "overview.delivered": "Levererade",
    "overview.waiting": "Väntar",
    "overview.refused": "Stoppade",
    "overview.others": "övriga",
    "overview.none": "Inget under perioden.",
    "alert.dead_letters_rising": "Döda brev ökar: {count} leveranser blev döda de senaste "
    "{minutes} minuterna, fler än perioden innan.",
    "alert.destination_down": "Mottagaren {subject} svarar inte: {count} leveranser har väntat "
    "på nytt försök i {minutes} minuter.",
    "alert.checkpoint_overdue": "Granskningsloggens kontrollpunkt är försenad: {count} poster "
    "har väntat {minutes} minuter på att signeras.",
}

en: dict[str, str] = {
    "overview.title": "Overview",
    "overview.scope": "Traffic of",
    "overview.window": "Period",
    "overview.hours.1": "last hour",
    "overview.hours.24": "last day",
    "overview.hours.168": "last week",
    "overview.alerts": "Alerts",
    "overview.no_alerts": "No alerts right now.",
    "overview.messages": "{count} messages received in the period.",
    "overview.by_district": "Messages per district",
    "overview.by_type": "Messages per type",
    "overview.by_destination": "Deliveries per destination",
    "overview.failures": "Retries and dead letters",
    "overview.retries": "Retries",
    "overview.dead": "Dead letters",
    "overview.latency": "Delivery latency per destination (p50, p90, p99)",
    "overview.latency.hint": "From received to delivered; the bound of the interval the "
    "percentile falls in.",
    "overview.destination": "Destination",
    "overview.deliveries": "Deliveries",
    "overview.delivered": "Delivered",
    "overview.waiting": "Waiting",
    "overview.refused": "Stopped",
    "overview.others": "others",
    "overview.none": "Nothing in the period.",
    "alert.dead_letters_rising": "Dead letters rising: {count} deliveries became dead in the "
    "last {minutes} minutes, more than in the period before.",
    "alert.destination_down": "Destination {subject} is down: {count} deliveries have been "
    "waiting for another attempt for {minutes} minutes.",
    "alert.checkpoint_overdue": "An audit checkpoint is overdue: {count} entries have waited "
    "{minutes} minutes to be signed.",
}
