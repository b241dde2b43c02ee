"""Titles, abbreviations and units: sentences with what a person says for each.

``DEVELOPMENT`` is the set the rules in ``streamtts/text/abbreviations.py``
were written and checked against: every class (civil, military, religious,
academic and legal titles; places, streets and organisations; units; "No.")
and both readings of the ambiguous ones ("St." Saint and Street, "Dr."
Doctor and Drive, "Sr." Sister and Senior, "Co." County and Company, "in"
inches and the word, "No." number and no).

``HELD_OUT`` was written before the rules were run on it and is only
measured, never tuned on (benchmarks/delivery.py reports it apart).

The spoken side says numbers in words, as a person reads them; scoring puts
both sides through Whisper's English normalizer (tests/data/listening.py).
"""

from __future__ import annotations

DEVELOPMENT = [
    # civil titles
    ("Mr. Smith and Mrs. Smith arrived early.", "Mister Smith and Missus Smith arrived early."),
    ("Ms. Jones will see you now.", "Miz Jones will see you now."),
    ("Messrs. Brown and Green signed the letter.", "Messers Brown and Green signed the letter."),
    ("Gov. Ray met Sen. Lee and Rep. Kim.", "Governor Ray met Senator Lee and Representative Kim."),
    ("Pres. Lincoln wrote to Amb. Adams.", "President Lincoln wrote to Ambassador Adams."),
    ("Supt. Moss thanked the Hon. Jane Roe.", "Superintendent Moss thanked the Honorable Jane Roe."),
    # military titles
    ("Gen. Smith spoke after Lt. Gen. Jones.", "General Smith spoke after Lieutenant General Jones."),
    ("Col. Brown and Maj. Davis left at dawn.", "Colonel Brown and Major Davis left at dawn."),
    ("Capt. Reyes and Lt. Park were on deck.", "Captain Reyes and Lieutenant Park were on deck."),
    ("Cmdr. Hale reported to Adm. Nelson.", "Commander Hale reported to Admiral Nelson."),
    ("Sgt. Ruiz, Cpl. Ward and Pvt. Cole stood guard.", "Sergeant Ruiz, Corporal Ward and Private Cole stood guard."),
    ("Brig. Gen. Moore inspected the troops.", "Brigadier General Moore inspected the troops."),
    # religious titles
    ("Rev. Green led the service.", "Reverend Green led the service."),
    ("Fr. Brown and Msgr. Kelly said mass.", "Father Brown and Monsignor Kelly said mass."),
    ("Sr. Mary Joseph teaches music.", "Sister Mary Joseph teaches music."),
    ("Br. Thomas rang the bell.", "Brother Thomas rang the bell."),
    ("The Rt. Rev. John Hale gave the blessing.", "The Right Reverend John Hale gave the blessing."),
    # academic titles
    ("Prof. Adams teaches physics.", "Professor Adams teaches physics."),
    ("Dr. Smith arrived at noon.", "Doctor Smith arrived at noon."),
    ("Ask Dr. Patel about the results.", "Ask Doctor Patel about the results."),
    ("Assoc. Prof. Lee wrote the paper.", "Associate Professor Lee wrote the paper."),
    ("She earned her Ph.D. last year.", "She earned her P H D last year."),
    # legal titles and after a name
    ("Jane Doe, Esq. signed the brief.", "Jane Doe, Esquire signed the brief."),
    ("Atty. Gen. Holder held a briefing.", "Attorney General Holder held a briefing."),
    ("John Smith Jr. met his father, John Smith Sr. today.", "John Smith Junior met his father, John Smith Senior today."),
    # places and streets: Saint and Street, Doctor and Drive
    ("He moved to St. Louis last spring.", "He moved to Saint Louis last spring."),
    ("He lives on Elm St. Tomorrow he moves.", "He lives on Elm Street. Tomorrow he moves."),
    ("Main St. is closed for the parade.", "Main Street is closed for the parade."),
    ("Turn left on Oak Dr. after the bridge.", "Turn left on Oak Drive after the bridge."),
    ("The office is on Fifth Ave. near the park.", "The office is on Fifth Avenue near the park."),
    ("Drive down Sunset Blvd. to Ocean Rd. and park.", "Drive down Sunset Boulevard to Ocean Road and park."),
    ("Our house is on Maple Ln. next to Pine Ct.", "Our house is on Maple Lane next to Pine Court."),
    ("Meet me at Union Sq. by the fountain.", "Meet me at Union Square by the fountain."),
    ("Take Hwy. 1 to the Garden State Pkwy. north.", "Take Highway one to the Garden State Parkway north."),
    ("We climbed Mt. Rainier and drove to Ft. Worth.", "We climbed Mount Rainier and drove to Fort Worth."),
    ("The lighthouse at Pt. Reyes is open.", "The lighthouse at Point Reyes is open."),
    ("He works for Acme Co. in Dublin, Co. Kerry.", "He works for Acme Company in Dublin, County Kerry."),
    ("She studies at the Univ. of Iowa in the Dept. of History.", "She studies at the University of Iowa in the Department of History."),
    # units, singular after one
    ("The trail is 5 km long and 1 km wide.", "The trail is five kilometers long and one kilometer wide."),
    ("Cut a 30 cm board and drill a 6 mm hole.", "Cut a thirty centimeter board and drill a six millimeter hole."),
    ("The bag weighs 2 kg, the pill 50 mg.", "The bag weighs two kilograms, the pill fifty milligrams."),
    ("Add 8 oz of milk to 1 lb of flour.", "Add eight ounces of milk to one pound of flour."),
    ("The dog weighs 40 lbs now.", "The dog weighs forty pounds now."),
    ("The shelf is 6 ft tall and 12 in wide.", "The shelf is six feet tall and twelve inches wide."),
    ("He scored 3 in the first half.", "He scored three in the first half."),
    ("We drove 20 mi at 45 mph.", "We drove twenty miles at forty five miles per hour."),
    ("Trains here reach 300 km/h.", "Trains here reach three hundred kilometers per hour."),
    ("It was 20°C in Paris and 75°F in Miami.", "It was twenty degrees Celsius in Paris and seventy five degrees Fahrenheit in Miami."),
    ("The heater used 3 kWh overnight.", "The heater used three kilowatt hours overnight."),
    ("The photo is 4 MB and the video 2 GB.", "The photo is four megabytes and the video two gigabytes."),
    ("The reply took 250 ms.", "The reply took two hundred fifty milliseconds."),
    ("Bake it for 45 min at most.", "Bake it for forty five minutes at most."),
    ("The flight takes 1 hr and the drive 3 hrs.", "The flight takes one hour and the drive three hours."),
    ("Hold your breath for 10 sec.", "Hold your breath for ten seconds."),
    # No. before a numeral, and alone
    ("Room No. 5 is on the left.", "Room number five is on the left."),
    ("No. I do not want any more.", "No. I do not want any more."),
]  # fmt: skip

HELD_OUT = [
    ("Dr. Alvarez moved her clinic to Willow Dr. last year.", "Doctor Alvarez moved her clinic to Willow Drive last year."),
    ("Thank you, Mrs. Okafor, for coming.", "Thank you, Missus Okafor, for coming."),
    ("Lt. Col. Harris briefed Sgt. Maj. Lopez.", "Lieutenant Colonel Harris briefed Sergeant Major Lopez."),
    ("Capt. Nguyen flew 800 mi in 2 hrs.", "Captain Nguyen flew eight hundred miles in two hours."),
    ("The parade goes from St. Anne's Church down Market St. to the river.", "The parade goes from Saint Anne's Church down Market Street to the river."),
    ("Sr. Agnes and Fr. Murphy run the school.", "Sister Agnes and Father Murphy run the school."),
    ("Robert Lee Sr. still drives every day.", "Robert Lee Senior still drives every day."),
    ("Prof. Tanaka and Dr. Weiss wrote the report.", "Professor Tanaka and Doctor Weiss wrote the report."),
    ("Gov. Mills called Sen. Ortiz at 9 p.m.", "Governor Mills called Senator Ortiz at nine p.m."),
    ("No. 10 is the last stop. No, we are not there yet.", "Number ten is the last stop. No, we are not there yet."),
    ("The box is 2 ft wide and weighs 15 lbs.", "The box is two feet wide and weighs fifteen pounds."),
    ("She ran 1 mi, then cycled 12 km.", "She ran one mile, then cycled twelve kilometers."),
    ("Set the oven to 180°C for 25 min.", "Set the oven to one hundred eighty degrees Celsius for twenty five minutes."),
    ("The app uses 150 MB of memory and 3 GB of storage.", "The app uses one hundred fifty megabytes of memory and three gigabytes of storage."),
    ("The summit of Mt. Hood is about 11,000 ft high.", "The summit of Mount Hood is about eleven thousand feet high."),
    ("Adm. Byrd sailed from Ft. Lauderdale.", "Admiral Byrd sailed from Fort Lauderdale."),
    ("Rev. Dr. King spoke for 17 min.", "Reverend Doctor King spoke for seventeen minutes."),
    ("Send it to Maria Diaz, Esq., at 42 Lake Rd.", "Send it to Maria Diaz, Esquire, at forty two Lake Road."),
    ("Our team is No. 1 in the league.", "Our team is number one in the league."),
    ("He put in 5 kg of sand and 1 L of water.", "He put in five kilograms of sand and one liter of water."),
]  # fmt: skip
